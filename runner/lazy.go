package runner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
)

// Lazy is an engine connected on first use, so that a command that may
// not need one (a fresh lock, a verify that stops early) never asks.
type Lazy struct {
	// Dial connects to the engine (docker.Connect).
	Dial Dial
	// Progress receives pull progress and pip's output (nil: none).
	Progress io.Writer
	// Auth has the indexes' credentials (nil: none), Client downloads
	// the locked files and Base gives base images, for VerifyEnv and
	// PipVenv.
	Auth   *indexauth.Auth
	Client *http.Client
	Base   BaseSource
	// Stall bounds an engine pull or load without progress (Engine.Stall).
	Stall time.Duration
	// Phases shows builds and loads as they go (Engine.Phases).
	Phases *progress.Printer

	once   sync.Once
	engine *Engine
	err    error
}

// Engine connects, once.
func (z *Lazy) Engine(ctx context.Context) (*Engine, error) {
	z.once.Do(func() {
		if z.Dial == nil {
			z.err = errors.New("no container engine to connect to")
			return
		}
		c, err := z.Dial(ctx)
		if err != nil {
			z.err = err
			return
		}
		z.engine = New(c)
		z.engine.Stall, z.engine.Phases = z.Stall, z.Phases
	})
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
	return e.VerifyEnv(ctx, l, VerifyOptions{Base: z.Base, Auth: z.Auth, Client: z.Client})
}

// PipVenv installs locked files that are not wheels with pip in a
// container and returns a tar of the venv (resolve.Options.Pip).
func (z *Lazy) PipVenv(ctx context.Context, l *lock.Lock, platform string, pkgs []lock.Package) (io.ReadCloser, error) {
	return z.PipVenvFrom("")(ctx, l, platform, pkgs)
}

// PipVenvFrom is PipVenv installing from the locked files in wheelhouse
// (a vendor archive's), with no index; "" is PipVenv.
func (z *Lazy) PipVenvFrom(wheelhouse string) func(context.Context, *lock.Lock, string, []lock.Package) (io.ReadCloser, error) {
	return func(ctx context.Context, l *lock.Lock, platform string, pkgs []lock.Package) (io.ReadCloser, error) {
		e, err := z.Engine(ctx)
		if err != nil {
			return nil, err
		}
		env, err := EnvFor(l, platform, l.Run.PipCache)
		if err != nil {
			return nil, err
		}
		env.Auth, env.Wheelhouse = z.Auth, wheelhouse
		return e.pipVenv(env, EnvOptions{Progress: z.Progress})(ctx, platform, pkgs)
	}
}

// Close closes the connection, if one was made.
func (z *Lazy) Close() error {
	if z.engine != nil {
		return z.engine.Close()
	}
	return nil
}

// LoadNative loads a built environment into the engine when platform is
// the engine's own (and the base image, which it needs); it says whether
// it did.
func (z *Lazy) LoadNative(ctx context.Context, l *lock.Lock, platform string, b *envimage.Built) (bool, error) {
	e, err := z.Engine(ctx)
	if err != nil {
		return false, err
	}
	native, err := e.NativePlatform(ctx)
	if err != nil || native != platform {
		return false, err
	}
	env, err := EnvFor(l, platform, l.Run.PipCache)
	if err != nil {
		return false, err
	}
	if _, err := e.EnsureImage(ctx, env.Base, z.Progress); err != nil {
		return false, err
	}
	if len(env.Packages) == 0 {
		return true, nil
	}
	return true, e.LoadEnv(ctx, b.Image, env.Image())
}
