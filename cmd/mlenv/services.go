package main

import (
	"io"

	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/runner/docker"
)

// services are what a command that reaches a registry, an index or the
// engine uses, wired in this one place: the registry with docker's
// credentials, the project's index credentials, and the engine, connected
// on first use.
type services struct {
	reg    *registry.Registry
	auth   *indexauth.Auth
	engine *runner.Lazy
}

// newServices wires them for the project p (nil: no project, so no index
// credentials).
func newServices(g *globalOptions, p *lock.Project, stderr io.Writer) (*services, error) {
	reg, err := newRegistry(g, stderr)
	if err != nil {
		return nil, err
	}
	var auth *indexauth.Auth
	if p != nil {
		if auth, err = indexauth.Load(p.Spec.Pip.Indexes()); err != nil {
			return nil, err
		}
	}
	engine := newEngine(g)
	engine.Auth, engine.Progress, engine.Phases = auth, progressOut(g, stderr), phases(g, stderr)
	engine.Base, engine.Client = resolve.RegistryBase{Registry: reg}, reg.HTTPClient()
	return &services{reg: reg, auth: auth, engine: engine}, nil
}

// newEngine is the engine as docker finds it, connected on first use,
// its pulls and loads bounded by --registry-timeout without progress: the
// one place the CLI makes one.
func newEngine(g *globalOptions) *runner.Lazy {
	return &runner.Lazy{Dial: docker.Connect, Stall: g.registryTimeout}
}

// Close closes the engine's connection, if one was made.
func (s *services) Close() error { return s.engine.Close() }
