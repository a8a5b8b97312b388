package schema

import (
	"fmt"
	"strings"

	"github.com/docker/go-connections/nat"
)

// LoopbackIP is where a port is published when its spec names no
// address: on a shared server, other users reach it through ssh -L, and
// the network does not reach it at all.
const LoopbackIP = "127.0.0.1"

// PublishedPort is one container port published on the host.
type PublishedPort struct {
	HostIP        string // LoopbackIP unless the spec names one
	HostPort      string // "" for a port the engine picks
	ContainerPort string // a number
	Proto         string // tcp, udp or sctp
}

// ParsePorts reads [run] ports and -p values in docker run's syntax,
// [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO] (ranges expand to one port each),
// with docker's own parser.
func ParsePorts(specs []string) ([]PublishedPort, error) {
	var out []PublishedPort
	for _, spec := range specs {
		mappings, err := nat.ParsePortSpec(spec)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", spec, err)
		}
		for _, m := range mappings {
			p := PublishedPort{HostIP: m.Binding.HostIP, HostPort: m.Binding.HostPort, ContainerPort: m.Port.Port(), Proto: m.Port.Proto()}
			if p.HostIP == "" {
				p.HostIP = LoopbackIP
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Spec is the port as docker run's -p says it, its address explicit.
func (p PublishedPort) Spec() string {
	ip := p.HostIP
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	s := ip + ":" + p.HostPort + ":" + p.ContainerPort
	if p.Proto != "tcp" {
		s += "/" + p.Proto
	}
	return s
}

// PortSpecs are specs as docker run -p takes them with each address
// explicit (127.0.0.1 where a spec names none), one per port; a spec
// that does not parse is left out (ValidateRun reports it).
func PortSpecs(specs []string) []string {
	var out []string
	for _, spec := range specs {
		ports, _ := ParsePorts([]string{spec})
		for _, p := range ports {
			out = append(out, p.Spec())
		}
	}
	return out
}
