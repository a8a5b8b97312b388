package runner

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/schema"
)

// portBindings are [run] ports as the engine takes them.
func portBindings(specs []string) (network.PortSet, network.PortMap, error) {
	ports, err := schema.ParsePorts(specs)
	if err != nil || len(ports) == 0 {
		return nil, nil, err
	}
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, p := range ports {
		port, err := network.ParsePort(p.ContainerPort + "/" + p.Proto)
		if err != nil {
			return nil, nil, fmt.Errorf("[run] ports: %w", err)
		}
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil {
			return nil, nil, fmt.Errorf("[run] ports: the address %q: %w", p.HostIP, err)
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: ip, HostPort: p.HostPort})
	}
	return exposed, bindings, nil
}

// publishedPorts are where the engine published a container's ports.
func publishedPorts(ns *container.NetworkSettings) []schema.PublishedPort {
	if ns == nil {
		return nil
	}
	var out []schema.PublishedPort
	for port, bindings := range ns.Ports {
		for _, b := range bindings {
			out = append(out, schema.PublishedPort{HostIP: b.HostIP.String(), HostPort: b.HostPort, ContainerPort: fmt.Sprint(port.Num()), Proto: string(port.Proto())})
		}
	}
	slices.SortFunc(out, func(a, b schema.PublishedPort) int {
		return cmp.Or(cmp.Compare(len(a.ContainerPort), len(b.ContainerPort)), strings.Compare(a.ContainerPort, b.ContainerPort),
			strings.Compare(a.Proto, b.Proto), strings.Compare(a.HostIP, b.HostIP))
	})
	return out
}

// PortNotice says where a published port is reachable: its URL, and on a
// loopback address how another machine reaches it (ssh -L).
func PortNotice(p schema.PublishedPort) string {
	host := p.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p.Proto != "tcp" {
		return fmt.Sprintf("Container port %s/%s is published on %s:%s", p.ContainerPort, p.Proto, host, p.HostPort)
	}
	s := fmt.Sprintf("Container port %s is at http://%s:%s", p.ContainerPort, host, p.HostPort)
	if ip, err := netip.ParseAddr(p.HostIP); err == nil && ip.IsLoopback() {
		s += fmt.Sprintf(" (on this machine only; from yours: ssh -L %s:localhost:%s THIS-HOST)", p.HostPort, p.HostPort)
	}
	return s
}

// started reads the started container back once, where anything needs
// it: where the engine published its ports (told to spec.OnPublished), and
// its name (for a detached run), "" where it could not be read.
func (e *Engine) started(ctx context.Context, id string, spec RunSpec) (name string) {
	ports := spec.OnPublished != nil && len(spec.Settings.Ports) > 0
	if !ports && !spec.Detach {
		return ""
	}
	got, err := e.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return ""
	}
	if ports {
		spec.OnPublished(publishedPorts(got.Container.NetworkSettings))
	}
	return strings.TrimPrefix(got.Container.Name, "/")
}
