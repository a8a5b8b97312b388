// Package docker connects mlenv to a container engine through the Docker
// Engine API, as the docker CLI finds it: DOCKER_HOST, the current docker
// context, or the default socket. Docker and podman's Docker-compatible
// service both answer it; what mlenv asks of them is runner.Client.
package docker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/runner"
)

// Connect finds the engine as docker does (DOCKER_HOST, DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH; else the current docker context; else the default
// socket), negotiates the API version and checks that it answers.
func Connect(ctx context.Context) (runner.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	host, err := contextHost()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(host, "ssh://") {
		return nil, fmt.Errorf("the current docker context points at %s: mlenv does not speak ssh to engines yet; forward the socket (ssh -L /tmp/docker.sock:/var/run/docker.sock …) and set DOCKER_HOST=unix:///tmp/docker.sock", host)
	}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	host = c.DaemonHost()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, &NoEngineError{Host: host, Err: err}
	}
	if socket, ok := strings.CutPrefix(host, "unix://"); ok {
		return &local{Client: c, socket: socket}, nil
	}
	return c, nil
}

// local is a client of an engine on this machine (a unix socket): it can
// say what the engine reads here (runner.EngineHost).
type local struct {
	*client.Client
	socket string

	once     sync.Once // the peer is asked once per connection
	pid, uid int
	errPeer  error
}

func (l *local) peer() (pid, uid int, err error) {
	l.once.Do(func() { l.pid, l.uid, l.errPeer = peer(l.socket) })
	return l.pid, l.uid, l.errPeer
}

// DaemonEnv is the environment of the process serving the socket: its
// pid from the socket's peer credentials, its environment from /proc
// (readable by its owner and root).
func (l *local) DaemonEnv() ([]string, error) {
	pid, _, err := l.peer()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// DaemonUID is the user of the process serving the socket.
func (l *local) DaemonUID() (int, error) {
	_, uid, err := l.peer()
	return uid, err
}

// CDISpecDirs are where podman reads CDI specs: its defaults.
func (l *local) CDISpecDirs() []string { return []string{"/etc/cdi", "/var/run/cdi"} }

var _ runner.EngineHost = (*local)(nil)

// NoEngineError says the engine did not answer, and how to fix that.
type NoEngineError struct {
	Host string
	Err  error
}

func (e *NoEngineError) Error() string {
	hint := "start the Docker engine (for example `sudo systemctl start docker`), or set DOCKER_HOST to one that runs"
	if os.Getenv("DOCKER_HOST") != "" {
		hint = "check DOCKER_HOST=" + os.Getenv("DOCKER_HOST") + ", or unset it to use the local engine"
	}
	return fmt.Sprintf("cannot reach the Docker engine at %s: %v: %s", e.Host, e.Err, hint)
}

func (e *NoEngineError) Unwrap() error { return e.Err }
