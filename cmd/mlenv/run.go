package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/runner/archive"
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
	envCache     string
	from         string
	interactive  bool
	publish      []string
	home         string
	name         string
	detach       bool
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
  mlenv run -p 8888:8888 -- jupyter lab --ip 0.0.0.0 --no-browser   # on 127.0.0.1:8888
  mlenv run -d --name tb -p 6006:6006 -- tensorboard --logdir runs --bind_all
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
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a port as docker run -p does, [IP:][HOST:]CONTAINER[/PROTO], on 127.0.0.1 unless IP is given (adds to [run] ports)")
	f.StringVar(&o.home, "home", "", `with user = "host": the host directory that is HOME in the container (default: ~/.cache/mlenv/home, kept across runs)`)
	f.StringVar(&o.name, "name", "", "name the container (docker logs NAME, docker stop NAME)")
	f.BoolVarP(&o.detach, "detach", "d", false, "start the container in the background, print its name and return (it is removed when it ends)")
	f.StringVar(&o.ipc, "ipc", "", "IPC mode (overrides [run] ipc)")
	f.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm (overrides [run] shm-size)")
	f.StringVar(&o.network, "network", "", "network (overrides [run] network)")
	f.StringVar(&o.user, "user", "", `user: "host", uid[:gid] or a name (overrides [run] user)`)
	f.StringVar(&o.pipCache, "pip-cache", "", "named volume for pip's cache (overrides [run] pip-cache)")
	f.StringVar(&o.envCache, "env-cache", "", "pull the environment from this repository by its locked digest before building it (overrides [run] env-cache)")
	f.StringVar(&o.from, "from", "", "run offline from the archive in `DIR` that mlenv vendor wrote: its images, its wheels")
	return cmd
}

func runRun(ctx context.Context, o runOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g, archived := o.globalOptions, false
	if o.from != "" {
		if _, err := os.Stat(filepath.Join(o.from, archive.ImageDir)); err != nil {
			return usageError{fmt.Errorf("--from %s: not an mlenv vendor archive (no %s/ in it): make one with `mlenv vendor DIR`", o.from, archive.ImageDir)}
		}
		g, archived = fromArchive(g, o.from)
	}
	p, l, err := lockedProject(g, o.frozen)
	if err != nil {
		return err
	}
	projectDir := p.Spec.Dir
	if archived { // the archive's own lock, and the current directory as the project, as docker run -v $(pwd)
		if projectDir, err = os.Getwd(); err != nil {
			return err
		}
	} else if o.from != "" {
		if err := sameArchive(o.from, p.LockPath, l); err != nil {
			return err
		}
	}
	settings, err := runner.Overrides{GPUs: o.gpus, Workdir: o.workdir, Mounts: o.mounts, Env: o.env, IPC: o.ipc, ShmSize: o.shmSize,
		Network: o.network, User: o.user, PipCache: o.pipCache, EnvCache: o.envCache, Ports: o.publish}.Apply(l.Run, os.LookupEnv)
	if err != nil {
		return err
	}
	argv := args
	if len(argv) == 0 {
		argv = settings.Command
	}
	spec := runner.RunSpec{ProjectDir: projectDir, Subdir: runner.SubdirOf(projectDir), Settings: settings, Argv: argv,
		TTY: isTerminalReader(stdin) && isTerminal(stdout), Stdin: o.interactive || isTerminalReader(stdin),
		AllowOutside: o.allowOutside || p.Spec.Project.AllowOutsidePaths, FlagMounts: o.mounts, Name: o.name, Detach: o.detach}
	if o.name != "" && !containerNameRe.MatchString(o.name) {
		return usageError{fmt.Errorf("--name %q: a container name is letters, digits and _.- (starting with a letter or digit)", o.name)}
	}
	if o.detach {
		spec.TTY, spec.Stdin = false, false
	}
	if settings.User == "host" {
		if spec.Home, err = runHome(o.home); err != nil {
			return err
		}
	}
	if !o.quiet {
		spec.OnPublished = func(ports []schema.PublishedPort) {
			for _, port := range ports {
				fmt.Fprintln(stderr, runner.PortNotice(port))
			}
		}
	}
	s, err := newServices(o.globalOptions, p, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	if o.print {
		return runner.PrintCommand(ctx, s.engine, stdout, spec, l)
	}
	if len(argv) == 0 && !spec.Stdin {
		return usageError{errors.New("nothing to run: mlenv.toml has no [run] command and none was given: add [run] command = [\"python\", \"train.py\"], or run `mlenv run -- python train.py` (on a terminal, or with -i, the image's own command runs)")}
	}
	ro := runner.RunOptions{Rebuild: o.rebuild, Auth: s.auth, Progress: progressOut(o.globalOptions, stderr),
		Base: resolve.RegistryBase{Registry: s.reg}, Client: s.reg.HTTPClient(), EnvCache: settings.EnvCache}
	if o.from != "" {
		ro.From = archive.Archive(o.from)
	}
	if !o.quiet {
		ro.OnInstall = func(image string, n int) { fmt.Fprintf(stderr, "Installing %d locked packages into %s\n", n, image) }
		ro.Warn = func(w string) { fmt.Fprintln(stderr, "mlenv: warning: "+w) }
		ro.Info = func(s string) { fmt.Fprintln(stderr, s) }
		if isTerminal(stderr) {
			ro.Notice = ro.Info
		}
	}
	return runner.RunLock(ctx, s.engine, l, spec, runner.Stdio{In: stdin, Out: stdout, Err: stderr}, ro)
}

// runHome is the host directory that is HOME under user = "host": dir,
// or mlenv's per-user one, created private where missing.
func runHome(dir string) (string, error) {
	if dir == "" {
		d, err := userdir.Home()
		if err != nil {
			return "", fmt.Errorf("the home directory for user = \"host\": %w (or pass --home DIR)", err)
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("the home directory for user = \"host\": %w", err)
	}
	return dir, nil
}

// containerNameRe is the engine's rule for container names.
var containerNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// fromArchive is g for `run --from DIR`: the project's mlenv.toml where
// there is one (found upward, or --file), else the archive's own (archived),
// so that an archive reruns from any directory.
func fromArchive(g *globalOptions, dir string) (*globalOptions, bool) {
	if _, err := specPath(g); err == nil {
		return g, false
	}
	archived := *g
	archived.file = filepath.Join(dir, schema.FileName)
	return &archived, true
}

// sameArchive refuses an archive of another lock than the project's: it
// would run this project's command in another environment.
func sameArchive(dir, lockPath string, l *lock.Lock) error {
	theirs, err := lock.Require(filepath.Join(dir, lock.FileName))
	if err != nil {
		return usageError{fmt.Errorf("--from %s: %w", dir, err)}
	}
	if theirs.Integrity == l.Integrity {
		return nil
	}
	return usageError{fmt.Errorf("--from %s is the archive of another lock: its %s locks %s (inputs: image %s, pip %s, run %s), and %s locks %s (inputs: image %s, pip %s, run %s): vendor this lock (`mlenv vendor DIR`), or run from the archive's project",
		dir, lock.FileName, theirs.PinnedReference(), lock.Short(theirs.Inputs.Image), lock.Short(theirs.Inputs.Pip), lock.Short(theirs.Inputs.Run),
		lockPath, l.PinnedReference(), lock.Short(l.Inputs.Image), lock.Short(l.Inputs.Pip), lock.Short(l.Inputs.Run))}
}
