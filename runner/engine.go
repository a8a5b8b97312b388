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
	"sync"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// Engine is mlenv's rules over one engine connection.
type Engine struct {
	Client Client
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

// New is mlenv's rules over the engine c.
func New(c Client) *Engine { return &Engine{Client: c} }

// Close releases the connection.
func (e *Engine) Close() error { return e.Client.Close() }
