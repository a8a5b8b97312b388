// Package runner owns everything that talks to the Docker engine: the
// image by digest (pulled with progress), the pip-cache volume, the cached
// environment image, and containers from create to removal.
package runner

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// Engine is a connection to a Docker engine.
type Engine struct {
	Client *client.Client
	host   string
	// Offline forbids pulls: images must already be in the engine.
	Offline bool

	infoMu sync.Mutex
	info   *system.Info // the engine's info, asked once

	swept sync.Once // leftovers of dead mlenv processes removed
}

// sysInfo is the engine's info (platform, runtimes), asked for once per
// Engine: a run needs it twice and it costs a round trip.
func (e *Engine) sysInfo(ctx context.Context) (system.Info, error) {
	e.infoMu.Lock()
	defer e.infoMu.Unlock()
	if e.info == nil {
		res, err := e.Client.Info(ctx, client.InfoOptions{})
		if err != nil {
			return system.Info{}, fmt.Errorf("docker engine info: %w", err)
		}
		e.info = &res.Info
	}
	return *e.info, nil
}

// Connect finds the engine as docker does (DOCKER_HOST, DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH; else the current docker context; else the default
// socket), negotiates the API version and checks that it answers.
func Connect(ctx context.Context) (*Engine, error) {
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
	return &Engine{Client: c, host: host}, nil
}

// Close releases the connection.
func (e *Engine) Close() error { return e.Client.Close() }

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
