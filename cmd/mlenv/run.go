package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

type runOptions struct {
	*globalOptions
	frozen       bool
	rebuild      bool
	print        bool
	allowOutside bool
	gpus         string
	workdir      string
	mounts       []string
	env          []string
	ipc          string
	shmSize      string
	network      string
	user         string
	pipCache     string
	from         string
	interactive  bool
}

func newRunCmd(g *globalOptions, stdin io.Reader) *cobra.Command {
	o := runOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "run [flags] [-- command [args...]]",
		Short: "Run a container from exactly the lock",
		Long: `Run a container from exactly mlenv.lock: the image by digest, the locked pip
packages installed with hashes required (once: the environment is kept as a
local image keyed by the lock, and pip's cache is a named volume), the
project directory mounted at [run] workdir, and [run] settings, each of
which a flag overrides. Like docker run --rm: stdio attached, a TTY when
the terminal is one, the container removed however it ends, and its exit
code returned.`,
		Example: `  mlenv run                                   # runs [run] command
  mlenv run -- python train.py --epochs 3
  mlenv run --gpus 0,1 -e WANDB_MODE=offline -- python train.py
  mlenv run --print                           # the equivalent docker run command`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), o, args, stdin, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // `mlenv run python -c x`: everything from the command on is its argv
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin attached even when it is not a terminal (pipes)")
	f.BoolVar(&o.frozen, "frozen", false, "use the lock as it is, even when mlenv.toml changed since")
	f.BoolVar(&o.rebuild, "rebuild", false, "install the locked packages afresh instead of using the cached environment")
	f.BoolVar(&o.print, "print", false, "print the equivalent docker run command and exit")
	f.BoolVar(&o.allowOutside, "allow-outside-mounts", false, "allow mounts outside the project directory (or set [project] allow-outside-paths)")
	f.StringVar(&o.gpus, "gpus", "", `GPUs: all, none, auto, a count, or device ids "0,1" (overrides [run] gpus)`)
	f.StringVar(&o.workdir, "workdir", "", "where the project is mounted in the container (overrides [run] workdir)")
	f.StringArrayVarP(&o.mounts, "mount", "v", nil, "extra mount host:container[:ro] (adds to [run] mounts)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable KEY=VALUE (adds to and overrides [run] env)")
	f.StringVar(&o.ipc, "ipc", "", "IPC mode (overrides [run] ipc)")
	f.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm (overrides [run] shm-size)")
	f.StringVar(&o.network, "network", "", "network (overrides [run] network)")
	f.StringVar(&o.user, "user", "", `user: "host", uid[:gid] or a name (overrides [run] user)`)
	f.StringVar(&o.pipCache, "pip-cache", "", "named volume for pip's cache (overrides [run] pip-cache)")
	f.StringVar(&o.from, "from", "", "run offline from a `mlenv vendor` archive: load its image, install from its wheels")
	return cmd
}

func runRun(ctx context.Context, o runOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	p, l, err := lockedProject(o.globalOptions, o.frozen)
	if err != nil {
		return err
	}
	settings, err := o.settings(l.Run)
	if err != nil {
		return withCode(exitUsage, err)
	}
	argv := args
	if len(argv) == 0 {
		argv = settings.Command
	}
	tty := isTerminalReader(stdin) && isTerminal(stdout)
	spec := runner.RunSpec{ProjectDir: p.spec.Dir, Settings: settings, Argv: argv, TTY: tty, Stdin: o.interactive || isTerminalReader(stdin),
		AllowOutside: o.allowOutside || p.spec.Project.AllowOutsidePaths}
	if o.print {
		return printRun(spec, l, stdout)
	}
	code, err := startRun(ctx, o, spec, l, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	return silentExit(code)
}

// lockedProject loads the project and its lock: a missing or stale lock
// exits 3 (unless frozen), a corrupted one 2.
func lockedProject(g *globalOptions, frozen bool) (*project, *lock.Lock, error) {
	p, err := loadProject(g)
	if err != nil {
		return nil, nil, err
	}
	l, err := requireLock(p.lockPath)
	if err != nil {
		return nil, nil, err
	}
	if f := lock.Check(p.hashes, l); !f.Fresh && !frozen {
		return nil, nil, withCode(exitStale, fmt.Errorf("%s is stale: %s: run `mlenv lock`, or pass --frozen to use the lock as it is", p.lockPath, f.Reason()))
	}
	return p, l, nil
}

// startRun does everything up to the container's exit. Failures before the
// container starts exit 125.
func startRun(ctx context.Context, o runOptions, spec runner.RunSpec, l *lock.Lock, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	engine, err := runner.Connect(ctx)
	if err != nil {
		return 0, withCode(exitRunFailed, err)
	}
	defer engine.Close()
	code, err := prepareAndRun(ctx, engine, o, spec, l, stdin, stdout, stderr)
	var started *runner.StartedError
	switch {
	case err == nil:
		return code, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case errors.As(err, &started):
		return 0, err
	}
	return 0, withCode(exitRunFailed, err)
}

func prepareAndRun(ctx context.Context, engine *runner.Engine, o runOptions, spec runner.RunSpec, l *lock.Lock, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	platform, err := engine.NativePlatform(ctx)
	if err != nil {
		return 0, err
	}
	env, err := runner.EnvFor(l, platform, spec.Settings.PipCache)
	if err != nil {
		return 0, err
	}
	if o.from != "" {
		if env.Wheelhouse, err = useVendored(ctx, engine, o.from, l, platform); err != nil {
			return 0, err
		}
	}
	eo := runner.EnvOptions{Rebuild: o.rebuild, Progress: progressOut(o.globalOptions, stderr)}
	if !o.quiet {
		eo.OnInstall = func(image string, n int) { fmt.Fprintf(stderr, "Installing %d locked packages into %s\n", n, image) }
	}
	image, err := engine.EnsureEnv(ctx, env, eo)
	if err != nil {
		return 0, err
	}
	spec.Image, spec.Platform = image, platform
	if spec.GPUs, err = engine.GPURequests(ctx, spec.Settings.GPUs); err != nil {
		return 0, err
	}
	if len(spec.GPUs) > 0 {
		warning, err := runner.CheckDriver(runner.HostDriver(), l.Versions.CUDA, l.Versions.MinDriver)
		if err != nil {
			return 0, err
		}
		if warning != "" && !o.quiet {
			fmt.Fprintln(stderr, "mlenv: warning: "+warning)
		}
	}
	return engine.Run(ctx, spec, runner.Stdio{In: stdin, Out: stdout, Err: stderr})
}

// settings applies the flags over the lock's [run] table.
func (o runOptions) settings(r schema.Run) (schema.Run, error) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Workdir, o.workdir)
	set(&r.IPC, o.ipc)
	set(&r.ShmSize, o.shmSize)
	set(&r.Network, o.network)
	set(&r.User, o.user)
	set(&r.PipCache, o.pipCache)
	if o.gpus != "" {
		r.GPUs = schema.GPUs(o.gpus)
		if strings.Contains(o.gpus, ",") {
			r.GPUs = schema.GPUs("device=" + o.gpus)
		}
	}
	r.Mounts = append(append([]string{}, r.Mounts...), o.mounts...)
	if len(o.env) > 0 {
		env := map[string]string{}
		for k, v := range r.Env {
			env[k] = v
		}
		for _, kv := range o.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				v, ok = os.LookupEnv(k)
			}
			if !ok {
				continue
			}
			env[k] = v
		}
		r.Env = env
	}
	return r, schema.ValidateRun(r)
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// useVendored loads a vendor archive's image into the engine, forbids
// pulls, and returns the archive's wheelhouse.
func useVendored(ctx context.Context, engine *runner.Engine, dir string, l *lock.Lock, platform string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	engine.Offline = true
	if err := engine.LoadVendored(ctx, abs, l, platform); err != nil {
		return "", err
	}
	return filepath.Join(abs, resolve.VendorWheelsDir), nil
}
