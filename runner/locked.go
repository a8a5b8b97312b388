package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/mount"

	"github.com/mlenv/mlenv/internal/envuse"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/lock"
)

// ErrBeforeStart marks a run that failed before its container started:
// mlenv run exits 125 for it.
var ErrBeforeStart = errors.New("the container did not start")

type beforeStart struct{ error }

func (n beforeStart) Unwrap() error        { return n.error }
func (n beforeStart) Is(target error) bool { return target == ErrBeforeStart }

// ExitError is a container that exited with a non-zero code, which mlenv
// run passes on as its own.
type ExitError struct {
	Code int
	// Err, when set, says why there was no exit of the command's own: it
	// could not start (126, 127), as docker run says it.
	Err error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("the container exited with code %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Restorer restores a locked environment's inputs without any registry or
// index (a `mlenv vendor` archive): it loads the image into the engine and
// returns a host directory of the locked wheels.
type Restorer interface {
	Restore(ctx context.Context, e Loader, l *lock.Lock, platform string) (wheelhouse string, err error)
	BaseSource
}

// Loader is what a Restorer needs of the engine: to know which images it
// has, and to load more (an *Engine is one).
type Loader interface {
	HasImage(ctx context.Context, ref string) bool
	LoadImage(ctx context.Context, img v1.Image, tag string) error
	LoadEnv(ctx context.Context, img v1.Image, tag string) error
}

// BaseSource gives the locked base image of a platform (a registry, or a
// vendor archive): its manifest and config go into the environment
// image's, its layers only where an engine must be sent them.
type BaseSource interface {
	BaseImage(ctx context.Context, l *lock.Lock, platform string) (v1.Image, error)
}

// RunOptions say how RunLock prepares the environment.
type RunOptions struct {
	Rebuild  bool            // install afresh even when the environment image exists
	Auth     *indexauth.Auth // the indexes' credentials (nil: none)
	From     Restorer        // restore offline instead of pulling and downloading
	Base     BaseSource      // the base image, for building the environment
	EnvCache string          // pull the environment from here by digest before building ([run] env-cache)
	Client   *http.Client    // downloads the locked files (nil: http.DefaultClient)
	Progress io.Writer       // pull progress and pip's output, or nil
	// OnInstall is told before the locked packages are installed; Warn
	// receives warnings (an old driver). Either may be nil.
	OnInstall func(image string, packages int)
	Warn      func(string)
	Info      func(string) // what the run uses and why (its GPUs)
	// Host is the machine's NVIDIA driver and GPUs (the zero value reads
	// this machine).
	Host GPUHost
	// Notice is told what a terminal should show and a log need not:
	// that the run uses no GPU, and why.
	Notice func(string)
}

// RunLock is `mlenv run`: it connects to the engine (z), makes the lock's
// environment for the engine's platform (pulled by digest, the locked
// packages installed once), checks the driver for a GPU run, and runs
// spec's command in it. A container that exits non-zero is an *ExitError;
// every failure before the container started is ErrBeforeStart.
func RunLock(ctx context.Context, z *Lazy, l *lock.Lock, spec RunSpec, stdio Stdio, o RunOptions) error {
	e, err := z.Engine(ctx)
	if err != nil {
		return beforeStart{err}
	}
	e.sweepLeftovers(ctx)
	spec, err = e.prepare(ctx, l, spec, o)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return beforeStart{err}
	}
	code, err := e.Run(ctx, spec, stdio)
	var started *AfterStartError
	var command *CommandError
	switch {
	case err == nil && code == 0:
		return nil
	case err == nil:
		return &ExitError{Code: code}
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &started):
		return err
	case errors.As(err, &command) && command.Code() != 125:
		return &ExitError{Code: command.Code(), Err: err}
	}
	return beforeStart{err}
}

// prepare is everything before the run container: the environment image,
// the GPUs, the preflight.
func (e *Engine) prepare(ctx context.Context, l *lock.Lock, spec RunSpec, o RunOptions) (RunSpec, error) {
	platform, err := e.NativePlatform(ctx)
	if err != nil {
		return spec, err
	}
	env, err := EnvFor(l, platform, spec.Settings.PipCache)
	if err != nil {
		return spec, err
	}
	env.Auth = o.Auth
	if o.From != nil {
		e.Offline = true
		if env.Wheelhouse, err = o.From.Restore(ctx, e, l, platform); err != nil {
			return spec, err
		}
	}
	base := o.Base
	if o.From != nil {
		base = o.From
	}
	image, err := e.EnsureEnv(ctx, env, EnvOptions{Rebuild: o.Rebuild, Progress: o.Progress, OnInstall: o.OnInstall, Warn: o.Warn, Info: o.Info,
		Base: baseFunc(base, l, platform), Cache: o.EnvCache, Client: o.Client})
	if err != nil {
		return spec, err
	}
	if len(env.Packages) > 0 {
		if uses, err := envuse.Default(); err == nil {
			uses.Record(env.Key(), spec.ProjectDir)
		}
	}
	spec.Image, spec.Platform = image, platform
	if spec.HostUser, err = e.HostUser(ctx); err != nil {
		return spec, err
	}
	caches, _ := spec.caches()
	for _, m := range caches {
		if m.Type == mount.TypeVolume {
			if err := e.EnsureVolume(ctx, m.Source); err != nil { // labelled, for cache ls
				return spec, err
			}
		}
	}
	if spec, err = e.gpus(ctx, spec, o); err != nil {
		return spec, err
	}
	warnings, err := Preflight(o.Host, l, platform, spec.GPUs)
	if err != nil {
		return spec, err
	}
	for _, w := range warnings {
		tell(o.Warn, w)
	}
	return spec, nil
}

// gpus sets the GPUs the run asks for, and says which and why: the ones
// given, all, or none, and why none when gpus = "auto" found no GPUs to
// ask for (a warning where the machine has NVIDIA GPUs the engine does
// not serve).
func (e *Engine) gpus(ctx context.Context, spec RunSpec, o RunOptions) (RunSpec, error) {
	given := GivenGPUs(os.LookupEnv)
	gpus, support, err := e.GPURequests(ctx, spec.Settings.GPUs, given)
	if err != nil {
		return spec, err
	}
	spec.GPUs, spec.GPUDriver, spec.CDI = gpus, support.Driver(), support.CDI
	switch why := given.Why(gpus); {
	case why != "" && asksGPUs(gpus):
		tell(o.Info, "Using "+why+", through "+support.Why())
	case why != "" && asksGPUs(spec.Settings.GPUs):
		tell(o.Notice, "Running without GPUs: "+why)
	case spec.Settings.GPUs.Mode() == "auto" && !support.Serves():
		tell(o.Notice, "Running without GPUs: "+support.Why())
		if seen := o.Host.ShowsNVIDIA(); seen != "" {
			tell(o.Warn, fmt.Sprintf("this machine has NVIDIA GPUs (%s), but %s: %s", seen, support.Why(), support.Fix()))
		}
		for _, n := range support.Notes {
			tell(o.Notice, n)
		}
	}
	return spec, nil
}

// tell passes s to one of the options' printers, where it is set.
func tell(f func(string), s string) {
	if f != nil {
		f(s)
	}
}

// baseFunc is s as EnvOptions.Base (nil when s is).
func baseFunc(s BaseSource, l *lock.Lock, platform string) func(context.Context) (v1.Image, error) {
	if s == nil {
		return nil
	}
	return func(ctx context.Context) (v1.Image, error) { return s.BaseImage(ctx, l, platform) }
}
