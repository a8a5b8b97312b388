package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// RunSpec is one `mlenv run`: the image, the settings and the command.
type RunSpec struct {
	Image      string // the environment image, or the base image by digest
	Platform   string
	ProjectDir string
	Settings   schema.Run
	Argv       []string // empty: the image's own command
	TTY        bool
	Stdin      bool        // attach stdin
	GPUs       schema.GPUs // what the engine is asked for; "" or "none": no GPU
	// GPUDriver is how: "nvidia" (the default) or "cdi" by the names in
	// CDI (GPUSupport).
	GPUDriver string
	CDI       []string
	// HostUser is who user = "host" runs as: the caller's uid:gid (the
	// default), or 0:0 on a rootless engine, whose root is the caller.
	HostUser string
	// AllowOutside permits [run] mounts outside the project directory;
	// FlagMounts, the mounts given on the command line (the user's own
	// word), are allowed there anyway.
	AllowOutside bool
	FlagMounts   []string
	// Subdir is where the command starts, relative to the project
	// directory (mlenv run from proj/src starts in workdir/src).
	Subdir string
	// ConsoleSize is the TTY's height and width at start (engines from
	// API 1.42 apply it at create, before the command can ask).
	ConsoleSize [2]uint
	// Home is the host directory that is HOME under user = "host" (so
	// that model and tool caches outlive the run); "" gives HOME=/tmp.
	Home string
	// Name names the container (docker run --name); "" lets the engine.
	Name string
	// Detach starts the container and returns, as docker run -d --rm:
	// its name goes to stdout, and the engine removes it when it ends.
	Detach bool
	// OnPublished is told where each published port is reachable, once
	// the container started (the engine picks ports the spec leaves open).
	OnPublished func([]schema.PublishedPort)
}

// Stdio is where a run's streams go.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Container builds the engine's container and host configuration: the
// project mounted at workdir and used as the working directory, the extra
// mounts, env, ipc, shm size, network, user and GPU device requests. The
// command is an argv array end to end.
func (s RunSpec) Container() (*container.Config, *container.HostConfig, error) {
	r := s.Settings
	mounts, err := s.mounts()
	if err != nil {
		return nil, nil, err
	}
	cfg := &container.Config{
		Image:        s.Image,
		Cmd:          s.Argv,
		WorkingDir:   s.WorkingDir(),
		Tty:          s.TTY,
		OpenStdin:    s.Stdin,
		StdinOnce:    s.Stdin,
		AttachStdin:  s.Stdin,
		AttachStdout: true,
		AttachStderr: true,
		Labels:       map[string]string{LabelRun: "1", LabelOwner: leftover.Owner()},
	}
	cfg.User, cfg.Env = s.userEnv(s.hostUser())
	exposed, bindings, err := portBindings(r.Ports)
	if err != nil {
		return nil, nil, err
	}
	cfg.ExposedPorts = exposed
	hc := &container.HostConfig{
		// The engine removes the container itself too, so that none is left
		// behind when the engine (or mlenv) stops mid-run.
		AutoRemove:   true,
		Mounts:       mounts,
		IpcMode:      container.IpcMode(r.IPC),
		NetworkMode:  container.NetworkMode(r.Network),
		PortBindings: bindings,
		Resources:    container.Resources{DeviceRequests: DeviceRequests(s.GPUs, s.GPUDriver, s.CDI)},
		ConsoleSize:  s.ConsoleSize,
	}
	if r.ShmSize != "" && r.IPC != "host" { // the host's /dev/shm has its own size, as docker leaves it
		n, err := units.RAMInBytes(r.ShmSize)
		if err != nil {
			return nil, nil, fmt.Errorf("[run] shm-size %q: %w", r.ShmSize, err)
		}
		hc.ShmSize = n
	}
	return cfg, hc, nil
}

// SubdirOf is the working directory relative to the project directory,
// or "" when it is the project directory or outside it: RunSpec.Subdir for
// a run started there.
func SubdirOf(project string) string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	_, inside, _ := schema.ResolvePath(project, wd)
	realProject, err1 := filepath.EvalSymlinks(project)
	realWd, err2 := filepath.EvalSymlinks(wd)
	if !inside || err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(realProject, realWd)
	if err != nil || rel == "." {
		return ""
	}
	return rel
}

func (s RunSpec) hostUser() string {
	if s.HostUser != "" {
		return s.HostUser
	}
	return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
}

// WorkingDir is where the command starts in the container: the same
// directory under workdir as the caller's under the project.
func (s RunSpec) WorkingDir() string {
	return path.Join(s.Settings.Workdir, filepath.ToSlash(s.Subdir))
}

// HomeDir is HOME in the container under user = "host" with a Home.
const HomeDir = "/home/mlenv"

// userEnv is [run] user and env as the container gets them: user = "host"
// runs as hostUser, so files written to the project are the caller's;
// the caches' variables (caches) under [run] env, which wins.
func (s RunSpec) userEnv(hostUser string) (user string, env []string) {
	_, set := s.caches()
	maps.Copy(set, s.Settings.Env)
	for _, k := range sortedKeys(set) {
		env = append(env, k+"="+set[k])
	}
	if s.Settings.User == "host" {
		return hostUser, env
	}
	return s.Settings.User, env
}

// caches are what keeps a run's downloads for the next: under user =
// "host", HOME is the persistent home directory where there is one (else
// /tmp), pip's cache included (~/.cache/pip), with the user site off (a
// package pip put in HOME would join every later run's environment);
// other users get pip's cache on the pip-cache volume (PIP_CACHE_DIR), so
// an ad-hoc pip install is fast the second time and what it installs
// goes with the container.
func (s RunSpec) caches() ([]mount.Mount, map[string]string) {
	switch r := s.Settings; {
	case r.User == "host" && s.Home != "":
		return []mount.Mount{{Type: mount.TypeBind, Source: s.Home, Target: HomeDir}}, map[string]string{"HOME": HomeDir, "PYTHONNOUSERSITE": "1"}
	case r.User == "host":
		return nil, map[string]string{"HOME": "/tmp"}
	case r.PipCache != "":
		return []mount.Mount{{Type: mount.TypeVolume, Source: r.PipCache, Target: lock.PipCacheDir}}, map[string]string{"PIP_CACHE_DIR": lock.PipCacheDir}
	}
	return nil, map[string]string{}
}

// mounts resolves the project mount and [run] mounts. Host paths are
// relative to the project directory; a missing one is an error; one that
// leaves the project directory (through .. or a symlink) needs
// AllowOutside. A source without a slash is a named volume, as in docker.
func (s RunSpec) mounts() ([]mount.Mount, error) {
	project, err := filepath.EvalSymlinks(s.ProjectDir)
	if err != nil {
		return nil, fmt.Errorf("project directory: %w", err)
	}
	caches, _ := s.caches()
	out := append([]mount.Mount{{Type: mount.TypeBind, Source: project, Target: s.Settings.Workdir}}, caches...)
	for _, m := range s.Settings.Mounts {
		pm, err := schema.ParseMount(m)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(pm.Source, "/") && !strings.HasPrefix(pm.Source, ".") {
			out = append(out, mount.Mount{Type: mount.TypeVolume, Source: pm.Source, Target: pm.Target, ReadOnly: pm.ReadOnly})
			continue
		}
		flag := slices.Contains(s.FlagMounts, m)
		src, err := s.hostPath(project, pm.Source, flag)
		if err != nil && flag {
			return nil, fmt.Errorf("--mount %q: %w", m, err)
		}
		if err != nil {
			return nil, fmt.Errorf("[run] mounts %q: %w", m, err)
		}
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: src, Target: pm.Target, ReadOnly: pm.ReadOnly})
	}
	return out, nil
}

func (s RunSpec) hostPath(project, p string, flag bool) (string, error) {
	real, inside, err := schema.ResolvePath(project, p)
	switch {
	case os.IsNotExist(err):
		return "", fmt.Errorf("%s does not exist: create it, or fix the path (relative to the project directory)", real)
	case err != nil:
		return "", err
	case !inside && !s.AllowOutside && !flag:
		return "", fmt.Errorf("%s is outside the project directory %s: pass --allow-outside-mounts to mount it anyway", real, project)
	}
	return real, nil
}

// AfterStartError wraps failures after the container started; anything else
// Run returns happened before (exit 125).
type AfterStartError struct{ Err error }

func (e *AfterStartError) Error() string { return e.Err.Error() }
func (e *AfterStartError) Unwrap() error { return e.Err }

// Run creates the container, attaches stdio (a TTY with resize when asked),
// starts it and waits, like `docker run --rm`: its exit code is returned,
// and the container is removed however the run ends. When ctx is
// cancelled (Ctrl-C, SIGTERM) the container is stopped and removed and
// Run returns ctx's error.
func (e *Engine) Run(ctx context.Context, spec RunSpec, stdio Stdio) (int, error) {
	foreground.Add(1)
	defer foreground.Add(-1)
	if f, ok := stdio.Out.(*os.File); ok && spec.TTY && term.IsTerminal(f.Fd()) {
		if ws, err := term.GetWinsize(f.Fd()); err == nil {
			spec.ConsoleSize = [2]uint{uint(ws.Height), uint(ws.Width)}
		}
	}
	id, err := e.Create(ctx, spec)
	if err != nil {
		return 0, err
	}
	if spec.Detach {
		return 0, e.detach(ctx, id, spec, stdio)
	}
	defer e.remove(id)
	// The streams outlive Ctrl-C too: what the command prints as it stops
	// is shown.
	attach, err := e.Client.ContainerAttach(context.WithoutCancel(ctx), id, client.ContainerAttachOptions{Stream: true, Stdin: spec.Stdin, Stdout: true, Stderr: true})
	if err != nil {
		if why := e.whyNoStart(ctx, spec, err); why != nil {
			return 0, why
		}
		return 0, fmt.Errorf("attach: %w", err)
	}
	defer attach.Close()
	// The waits outlive Ctrl-C (which cancels ctx): mlenv returns when the
	// interrupted container has exited, not before, and not later. The
	// exit code is read at the exit ("next-exit": every engine answers it
	// right; podman before 4.6 answers 0 to "removed"), and, like docker
	// run --rm, mlenv then waits for the engine's removal too, so that the
	// image is free when it returns.
	wait := e.Client.ContainerWait(context.WithoutCancel(ctx), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	removed := e.Client.ContainerWait(context.WithoutCancel(ctx), id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	restore := e.rawTerminal(spec, stdio)
	defer restore()
	outputDone := e.stream(spec, stdio, &attach.HijackedResponse)
	if _, err := e.Client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return 0, &CommandError{Argv: spec.Argv, Err: err}
	}
	e.started(ctx, id, spec)
	if spec.TTY {
		stopResize := e.followResize(ctx, id, stdio)
		defer stopResize()
	}
	select {
	case res := <-wait.Result:
		<-outputDone
		if err := e.stillUp(ctx, res.StatusCode); err != nil {
			// the engine went away: the exit code is its doing, not the command's
			return 0, &AfterStartError{&LostEngineError{During: "the run", Err: err}}
		}
		awaitRemoval(removed)
		if res.Error != nil {
			return int(res.StatusCode), &AfterStartError{errors.New(res.Error.Message)}
		}
		return int(res.StatusCode), nil
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return 0, &AfterStartError{ctx.Err()}
		}
		return 0, &AfterStartError{lost("the run", fmt.Errorf("waiting for the container: %w", err))}
	case <-ctx.Done():
		e.interrupt(ctx, id, wait)
		<-outputDone
		awaitRemoval(removed)
		return 0, &AfterStartError{ctx.Err()}
	}
}

// awaitRemoval waits a while for an auto-removed container to be gone;
// an engine that reports the removal as an error (it was quicker than the
// wait) or never reports it does not hold mlenv up.
func awaitRemoval(removed client.ContainerWaitResult) {
	select {
	case <-removed.Result:
	case <-removed.Error:
	case <-time.After(30 * time.Second):
	}
}

// whyNoStart asks the engine why a container could not be attached to:
// podman prepares the container for its start when attached (runc create,
// which finds the executable) and answers a failure there with a 409 whose
// words moby's client drops, then removes the auto-removed container. A
// second container of the same spec, not auto-removed, is started without
// attaching: the engine's answer is the reason (a *CommandError, so that
// a missing command is 127 as docker says). One that starts after all is
// killed at once, and nil leaves the attach error as it was.
func (e *Engine) whyNoStart(ctx context.Context, spec RunSpec, attachErr error) error {
	if !strings.Contains(attachErr.Error(), "409") {
		return nil
	}
	probe, err := e.create(ctx, spec, false)
	if err != nil {
		return nil
	}
	defer e.remove(probe)
	if _, err := e.Client.ContainerStart(ctx, probe, client.ContainerStartOptions{}); err != nil {
		return &CommandError{Argv: spec.Argv, Err: err}
	}
	e.Client.ContainerKill(context.Background(), probe, client.ContainerKillOptions{Signal: "SIGKILL"})
	return nil
}

// Create makes the run container (not started). A container whose GPUs
// the engine did not record as asked is removed: it would run on the CPU.
func (e *Engine) Create(ctx context.Context, spec RunSpec) (string, error) {
	return e.create(ctx, spec, true)
}

// create makes a container of spec, auto-removed by the engine when
// autoRemove (docker run --rm).
func (e *Engine) create(ctx context.Context, spec RunSpec, autoRemove bool) (string, error) {
	cfg, hc, err := spec.Container()
	if err != nil {
		return "", err
	}
	hc.AutoRemove = autoRemove
	opts := client.ContainerCreateOptions{Config: cfg, HostConfig: hc}
	if autoRemove {
		opts.Name = spec.Name // the probe of whyNoStart stays unnamed
	}
	if spec.Platform != "" {
		p, err := parsePlatform(spec.Platform)
		if err != nil {
			return "", err
		}
		opts.Platform = &ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	}
	res, err := e.Client.ContainerCreate(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("create the container: %w", err)
	}
	if len(hc.DeviceRequests) > 0 {
		if err := e.checkGPUsRecorded(ctx, res.ID, hc.DeviceRequests); err != nil {
			e.remove(res.ID)
			return "", err
		}
	}
	return res.ID, nil
}

// checkGPUsRecorded reads back the device requests the engine recorded for
// a container: they must be the ones asked (podman 4.3 drops CDI device
// requests from Docker API clients without a word).
func (e *Engine) checkGPUsRecorded(ctx context.Context, id string, asked []container.DeviceRequest) error {
	got, err := e.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("read back the container's GPUs: %w", err)
	}
	var recorded []container.DeviceRequest
	if got.Container.HostConfig != nil {
		recorded = got.Container.HostConfig.DeviceRequests
	}
	if sameRequests(asked, recorded) {
		return nil
	}
	return fmt.Errorf("the engine (%s) did not record the GPUs asked for (%s; it recorded %s), so the command would run without them: upgrade the engine (podman passes CDI device requests of Docker API clients on in releases after 4.3), or run with --gpus none",
		e.Product(ctx), describeRequests(asked), describeRequests(recorded))
}

func sameRequests(a, b []container.DeviceRequest) bool {
	return describeRequests(a) == describeRequests(b)
}

func describeRequests(reqs []container.DeviceRequest) string {
	if len(reqs) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range reqs {
		parts = append(parts, fmt.Sprintf("%s count %d ids %v", r.Driver, r.Count, r.DeviceIDs))
	}
	return strings.Join(parts, "; ")
}

// stream copies stdin to the container and its output to stdout and
// stderr (demultiplexed unless it is a TTY). The returned channel closes
// when the output ends.
func (e *Engine) stream(spec RunSpec, stdio Stdio, h *client.HijackedResponse) <-chan struct{} {
	done := make(chan struct{})
	if spec.Stdin && stdio.In != nil {
		go func() {
			io.Copy(h.Conn, stdio.In)
			h.CloseWrite()
		}()
	}
	go func() {
		defer close(done)
		if spec.TTY {
			io.Copy(stdio.Out, h.Reader)
			return
		}
		stdcopy.StdCopy(stdio.Out, stdio.Err, h.Reader)
	}()
	return done
}

// rawTerminal puts a terminal stdin into raw mode for a TTY run, so keys
// (Ctrl-C included) go to the container as docker does.
func (e *Engine) rawTerminal(spec RunSpec, stdio Stdio) func() {
	f, ok := stdio.In.(*os.File)
	if !spec.TTY || !ok || !term.IsTerminal(f.Fd()) {
		return func() {}
	}
	state, err := term.SetRawTerminal(f.Fd())
	if err != nil {
		return func() {}
	}
	return func() { term.RestoreTerminal(f.Fd(), state) }
}

// followResize keeps the container's TTY the size of the terminal.
func (e *Engine) followResize(ctx context.Context, id string, stdio Stdio) func() {
	f, ok := stdio.Out.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return func() {}
	}
	resize := func() {
		if ws, err := term.GetWinsize(f.Fd()); err == nil {
			e.Client.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: uint(ws.Height), Width: uint(ws.Width)})
		}
	}
	resize()
	ch := make(chan os.Signal, 1)
	if len(resizeSignals) > 0 {
		signal.Notify(ch, resizeSignals...)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				resize()
			case <-stop:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(stop) }
}

// stillUp tells a container killed by its engine shutting down (137 or
// 143: SIGKILL or SIGTERM, which mlenv did not send) from one killed for
// its own reasons: an engine that stops does not answer for long.
func (e *Engine) stillUp(ctx context.Context, code int64) error {
	if code != 137 && code != 143 {
		return nil
	}
	for i := 0; i < 15; i++ {
		if _, err := e.Client.Ping(ctx, client.PingOptions{}); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// Interrupted is why a run's context was cancelled: the signal mlenv got,
// which the container is sent in turn.
type Interrupted struct{ Signal os.Signal }

func (i Interrupted) Error() string { return "interrupted by " + i.Signal.String() }

// signalName is the signal to pass on for a cancelled run: SIGTERM for a
// SIGTERM (a scheduler's stop), else SIGINT (Ctrl-C).
func signalName(ctx context.Context) string {
	var i Interrupted
	if errors.As(context.Cause(ctx), &i) && i.Signal == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

// interrupt passes Ctrl-C (or SIGTERM) on as docker's signal proxy does:
// the same signal to the container (python, even as PID 1, stops on
// SIGINT), then waits for it to exit; a second Ctrl-C or SIGTERM kills it. It returns as soon as the
// container has exited (the engine then removes it).
func (e *Engine) interrupt(runCtx context.Context, id string, wait client.ContainerWaitResult) {
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	ctx := context.Background()
	e.Client.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signalName(runCtx)})
	for {
		select {
		case <-wait.Result:
			return
		case <-wait.Error:
			return // the container is gone, or the engine is
		case <-again:
			e.Client.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"})
		}
	}
}
