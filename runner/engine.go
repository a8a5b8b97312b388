// Package runner runs a lock on a container engine: the image by digest
// (pulled with progress), the environment image (found by its locked ID,
// pulled from an env-cache, or built and checked), the pip-cache volume,
// GPUs, and containers from create to removal, like `docker run --rm`. It
// speaks to the engine through Client, which runner/docker connects to
// Docker or podman and internal/enginefake fakes in memory.
package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/progress"
)

// Engine is mlenv's rules over one engine connection.
type Engine struct {
	Client Client
	// Offline forbids pulls: images must already be in the engine.
	Offline bool
	// Stall ends an engine pull or load that makes no progress for this
	// long (0: DefaultStall): a registry that never answers is an error
	// naming it, not a wait without end.
	Stall time.Duration
	// Phases shows builds and loads as they go (nil: nothing).
	Phases *progress.Printer

	infoMu  sync.Mutex
	info    *system.Info // the engine's info, asked once
	product *Product     // what engine it is, asked once

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

// Product is which engine answers: podman or docker, and its version.
type Product struct {
	Name, Version string
}

func (p Product) String() string { return strings.TrimSpace(p.Name + " " + p.Version) }

// Podman says the engine is podman, which serves GPUs by CDI only and
// answers some calls otherwise than docker.
func (p Product) Podman() bool { return p.Name == "podman" }

// Product asks the engine what it is, once per Engine; an engine that
// does not say is docker of an unknown version.
func (e *Engine) Product(ctx context.Context) Product {
	e.infoMu.Lock()
	defer e.infoMu.Unlock()
	if e.product == nil {
		p := Product{Name: "docker"}
		if v, err := e.Client.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
			p.Version = v.Version
			for _, c := range v.Components {
				if c.Name == "Podman Engine" {
					p.Name = "podman"
				}
			}
		}
		e.product = &p
	}
	return *e.product
}

// Rootless reports whether the engine runs without root (rootless
// podman or docker): its containers' root is the user who runs it, and
// their other users map to subordinate ids. Docker says so in its
// security options; podman does not, so an engine on this machine is
// also asked who runs it.
func (e *Engine) Rootless(ctx context.Context) (bool, error) {
	info, err := e.sysInfo(ctx)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(info.SecurityOptions, func(o string) bool {
		return slices.Contains(strings.Split(o, ","), "name=rootless")
	}) {
		return true, nil
	}
	if host, ok := e.Client.(EngineHost); ok {
		if uid, err := host.DaemonUID(); err == nil {
			return uid != 0, nil
		}
	}
	return false, nil
}

// HostUser is who user = "host" runs as on this engine, so that files
// the run writes are the caller's: the caller's uid:gid, or root on a
// rootless engine (which is the caller).
func (e *Engine) HostUser(ctx context.Context) (string, error) {
	rootless, err := e.Rootless(ctx)
	if err != nil || !rootless {
		return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), err
	}
	return "0:0", nil
}

// New is mlenv's rules over the engine c.
func New(c Client) *Engine { return &Engine{Client: c} }

// Close releases the connection.
func (e *Engine) Close() error { return e.Client.Close() }
