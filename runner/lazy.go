package runner

import (
	"context"
	"io"
	"sync"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner/indexauth"
	"github.com/mlenv/mlenv/runner/task"
)

// Lazy is an engine connected on first use, so that a command that may
// not need one (a fresh lock, a verify that stops early) never asks.
type Lazy struct {
	// Progress receives pull progress and pip's output (nil: none).
	Progress io.Writer
	// Auth has the indexes' credentials, for VerifyEnv (nil: none).
	Auth *indexauth.Auth

	once   sync.Once
	engine *Engine
	err    error
}

// Engine connects, once.
func (z *Lazy) Engine(ctx context.Context) (*Engine, error) {
	z.once.Do(func() { z.engine, z.err = Connect(ctx) })
	return z.engine, z.err
}

// NativePlatform is the engine's; see Engine.NativePlatform.
func (z *Lazy) NativePlatform(ctx context.Context) (string, error) {
	e, err := z.Engine(ctx)
	if err != nil {
		return "", err
	}
	return e.NativePlatform(ctx)
}

// Exec runs a task; see Engine.Exec.
func (z *Lazy) Exec(ctx context.Context, req task.Request) (*task.Result, error) {
	e, err := z.Engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.Exec(ctx, req)
}

// VerifyEnv installs l's environment afresh; see Engine.VerifyEnv.
func (z *Lazy) VerifyEnv(ctx context.Context, l *lock.Lock) error {
	e, err := z.Engine(ctx)
	if err != nil {
		return err
	}
	return e.VerifyEnv(ctx, l, z.Progress, z.Auth)
}

// Close closes the connection, if one was made.
func (z *Lazy) Close() error {
	if z.engine != nil {
		return z.engine.Close()
	}
	return nil
}
