package runner_test

// mlenv's run rules against an in-memory engine (internal/enginefake):
// which image a run uses, what is pulled, built, loaded, named and
// removed, exit codes and what the container is created with. The real
// engines are tested in cmd/mlenv.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/enginefake"
	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

const baseRepo = "registry.example/base"

// fixture is a fake engine, a registry image it can pull, and a lock of
// it that installs one wheel (kept in a wheelhouse, as an archive has it).
type fixture struct {
	index      *pypitest.Index
	fake       *enginefake.Engine
	engine     *runner.Engine
	base       v1.Image
	lock       *lock.Lock
	wheelhouse string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux",
		Config: v1.Config{Env: []string{"PATH=/usr/bin:/bin"}, Cmd: []string{"python3"}}})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := random.Layer(512, "application/vnd.docker.image.rootfs.diff.tar")
	if err != nil {
		t.Fatal(err)
	}
	if base, err = mutate.AppendLayers(base, layer); err != nil {
		t.Fatal(err)
	}
	digest, _ := base.Digest()
	config, _ := base.ConfigName()
	wheel := pypitest.Wheel{Name: "alpha", Version: "1.0", Scripts: map[string]string{"alpha": "alpha:main"}}
	index := pypitest.New(t, wheel)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/"+wheel.Filename(), wheel.Build(), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &lock.Lock{
		Image:    lock.Image{Repository: baseRepo, Digest: digest.String(), Platforms: []lock.Platform{{Platform: "linux/amd64", Digest: digest.String(), Config: config.String()}}},
		Versions: lock.Versions{Python: "3.11.2", PythonExecutable: "/usr/bin/python3"},
		Packages: []lock.Package{{Name: "alpha", Version: "1.0", Requested: true, Index: index.URL,
			Hashes: []string{fileHash(wheel.Build())}, URL: strings.TrimSuffix(index.URL, "/simple") + "/files/" + wheel.Filename()}},
		Run: schema.Run{Workdir: "/src", Network: "bridge", PipCache: "mlenv-pip-cache", GPUs: "auto"},
	}
	f := &fixture{index: index, fake: enginefake.New(), base: base, lock: l, wheelhouse: dir}
	f.fake.Remote[baseRepo+"@"+digest.String()] = mustFake(t, base)
	f.engine = runner.New(f.fake)
	f.lockEnv(t)
	return f
}

func fileHash(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}

func mustFake(t *testing.T, img v1.Image) *enginefake.Image {
	t.Helper()
	fi, err := enginefake.FromV1(img)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// lockEnv records the environment's digests in the lock, as `mlenv
// lock` does.
func (f *fixture) lockEnv(t *testing.T) *envimage.Built {
	t.Helper()
	b, err := envimage.Build(context.Background(), f.lock, "linux/amd64", f.base, envimage.Options{Wheelhouse: f.wheelhouse})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f.lock.Image.Platforms[0].EnvDigest, f.lock.Image.Platforms[0].EnvConfig = b.Digest.String(), b.Config.String()
	store, err := envrecord.Default() // as `mlenv lock` does on the machine that locks
	if err == nil {
		err = store.Remember(envrecord.Inputs(f.lock, "linux/amd64"), b.Image)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) env(t *testing.T) runner.Env {
	t.Helper()
	env, err := runner.EnvFor(f.lock, "linux/amd64", f.lock.Run.PipCache)
	if err != nil {
		t.Fatal(err)
	}
	env.Wheelhouse = f.wheelhouse
	return env
}

func (f *fixture) options(warn *[]string) runner.EnvOptions {
	return runner.EnvOptions{
		Base: func(context.Context) (v1.Image, error) { return f.base, nil },
		Warn: func(w string) { *warn = append(*warn, w) },
		Info: func(string) {},
	}
}

// A cold environment is built, checked, loaded once (thin: the engine has
// the base) and named; a warm one is found by its locked ID, with nothing
// pulled, built or loaded again.
func TestEnsureEnvBuildsOnceThenFindsByID(t *testing.T) {
	f := newFixture(t)
	var warn []string
	env := f.env(t)
	id, err := f.engine.EnsureEnv(context.Background(), env, f.options(&warn))
	if err != nil {
		t.Fatal(err)
	}
	if id != env.Locked.EnvConfig {
		t.Fatalf("EnsureEnv = %s, want the locked env-config %s", id, env.Locked.EnvConfig)
	}
	if named, err := f.fake.ImageInspect(context.Background(), env.Image()); err != nil || named.ID != id {
		t.Errorf("%s is %v (%v), want %s", env.Image(), named.ID, err, id)
	}
	pulls, loads := f.fake.Count("ImagePull"), f.fake.Count("ImageLoad")
	if pulls != 1 || loads != 1 {
		t.Errorf("cold: %d pulls, %d loads; want the base pulled once and one load", pulls, loads)
	}
	if _, err := f.engine.EnsureEnv(context.Background(), env, f.options(&warn)); err != nil {
		t.Fatal(err)
	}
	if f.fake.Count("ImagePull") != pulls || f.fake.Count("ImageLoad") != loads {
		t.Errorf("warm: pulled or loaded again (%v)", f.fake.Calls())
	}
	if len(warn) > 0 {
		t.Errorf("warnings: %v", warn)
	}
}

// An engine that wants every layer (podman) gets the whole image after
// the thin archive is refused.
func TestEnsureEnvFullLoadFallback(t *testing.T) {
	f := newFixture(t)
	f.fake.FullLoadsOnly = true
	var warn []string
	env := f.env(t)
	id, err := f.engine.EnsureEnv(context.Background(), env, f.options(&warn))
	if err != nil || id != env.Locked.EnvConfig {
		t.Fatalf("EnsureEnv = %s, %v", id, err)
	}
	if n := f.fake.Count("ImageLoad"); n != 2 {
		t.Errorf("%d loads, want the thin one refused and the full one kept", n)
	}
}

// Whoever re-tags mlenv-env:<key> decides nothing: the run uses the locked
// ID, says the name was moved, and points it back.
func TestEnsureEnvIgnoresAMovedName(t *testing.T) {
	f := newFixture(t)
	var warn []string
	env := f.env(t)
	if _, err := f.engine.EnsureEnv(context.Background(), env, f.options(&warn)); err != nil {
		t.Fatal(err)
	}
	other, _ := random.Image(64, 1)
	otherID := f.fake.Add(mustFake(t, other), "evil:latest")
	f.fake.Tag(otherID, env.Image())
	id, err := f.engine.EnsureEnv(context.Background(), env, f.options(&warn))
	if err != nil || id != env.Locked.EnvConfig {
		t.Fatalf("EnsureEnv = %s, %v; want the locked %s", id, err, env.Locked.EnvConfig)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "not the locked environment") {
		t.Errorf("warnings = %q, want one saying the name was moved", warn)
	}
	if named, _ := f.fake.ImageInspect(context.Background(), env.Image()); named.ID != id {
		t.Errorf("the name still points at %s", named.ID)
	}
}

// A lock whose env digests are not what its packages make (copied from
// another lock, integrity recomputed) is refused before anything is run,
// pulled, loaded or named: by the record where this machine computed the
// environment, else by building it here and comparing.
func TestEnsureEnvRefusesWhatTheLockDoesNotSay(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		f := newFixture(t)
		f.lockEnv(t)
		if !recorded {
			t.Setenv("XDG_CACHE_HOME", t.TempDir()) // another machine
		}
		other, _ := random.Image(64, 1)
		forged, _ := other.ConfigName()
		forgedDigest, _ := other.Digest()
		f.fake.Remote["cache.example/envs@"+forgedDigest.String()] = mustFake(t, other)
		f.lock.Image.Platforms[0].EnvConfig, f.lock.Image.Platforms[0].EnvDigest = forged.String(), forgedDigest.String()
		var warn []string
		o := f.options(&warn)
		o.Cache = "cache.example/envs"
		_, err := f.engine.EnsureEnv(context.Background(), f.env(t), o)
		var nr *runner.NotReproducibleError
		var mm *envrecord.MismatchError
		switch {
		case recorded && (!errors.As(err, &mm) || mm.Locked.Config != forged.String()):
			t.Errorf("recorded: err = %v, want a MismatchError naming the locked config", err)
		case !recorded && (!errors.As(err, &nr) || nr.EnvConfig != forged.String()):
			t.Errorf("not recorded: err = %v, want a NotReproducibleError naming the locked config", err)
		}
		if n := f.fake.Count("ImageLoad") + f.fake.Count("ImageTag") + f.fake.Count("ImagePull") - 1; n > 0 {
			t.Errorf("recorded %v: calls %v: the forged environment reached the engine", recorded, f.fake.Calls())
		}
	}
}

// On a machine that has not computed the environment, the env-cache is
// not trusted: the environment is built here and checked, then recorded,
// so the next run finds it by ID with nothing built.
func TestEnsureEnvComputesWhereNotRecorded(t *testing.T) {
	f := newFixture(t)
	built := f.lockEnv(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // another machine
	env := f.env(t)
	f.fake.Remote["cache.example/envs@"+env.Locked.EnvDigest] = mustFake(t, built.Image)
	var warn []string
	o := f.options(&warn)
	o.Cache = "cache.example/envs"
	for i := range 2 {
		id, err := f.engine.EnsureEnv(context.Background(), env, o)
		if err != nil || id != env.Locked.EnvConfig {
			t.Fatalf("run %d: EnsureEnv = %s, %v", i, id, err)
		}
	}
	if f.fake.Count("ImageLoad") != 1 || f.fake.Count("ImagePull") != 1 {
		t.Errorf("calls %v: want the base pulled, the environment built and loaded once, then found", f.fake.Calls())
	}
}

// With an env-cache, the environment is pulled by its locked digest and
// nothing is built or loaded; a cache without it falls back to a build.
func TestEnsureEnvPullsFromEnvCache(t *testing.T) {
	f := newFixture(t)
	built := f.lockEnv(t)
	env := f.env(t)
	f.fake.Remote["cache.example/envs@"+env.Locked.EnvDigest] = mustFake(t, built.Image)
	var warn []string
	o := f.options(&warn)
	o.Cache = "cache.example/envs"
	id, err := f.engine.EnsureEnv(context.Background(), env, o)
	if err != nil || id != env.Locked.EnvConfig {
		t.Fatalf("EnsureEnv = %s, %v", id, err)
	}
	if f.fake.Count("ImageLoad") != 0 || f.fake.Count("ImagePull") != 2 {
		t.Errorf("calls %v: want the base and the environment pulled, nothing loaded", f.fake.Calls())
	}

	g := newFixture(t) // a cache that lacks it
	o = g.options(&warn)
	o.Cache = "cache.example/envs"
	if _, err := g.engine.EnsureEnv(context.Background(), g.env(t), o); err != nil {
		t.Fatal(err)
	}
	if g.fake.Count("ImageLoad") != 1 {
		t.Errorf("a cache without the environment: calls %v, want a build", g.fake.Calls())
	}
}

func TestEnsureImage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pl := f.lock.Image.Platforms[0]
	ref := runner.ImageRef{Repository: baseRepo, Digest: pl.Digest, Platform: pl.Platform, Config: pl.Config}
	f.engine.Offline = true
	if _, err := f.engine.EnsureImage(ctx, ref, nil); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline without the image: %v", err)
	}
	f.engine.Offline = false
	name, err := f.engine.EnsureImage(ctx, ref, nil)
	if err != nil || name != ref.String() {
		t.Fatalf("EnsureImage = %q, %v", name, err)
	}
	missing := ref
	missing.Digest, missing.Config = "sha256:"+strings.Repeat("0", 64), "sha256:"+strings.Repeat("2", 64)
	if _, err := f.engine.EnsureImage(ctx, missing, nil); err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("a digest the registry lacks: %v", err)
	}
	wrong := ref
	wrong.Config = "sha256:" + strings.Repeat("1", 64)
	if _, err := f.engine.EnsureImage(ctx, wrong, nil); err == nil || !strings.Contains(err.Error(), "the lock says") {
		t.Errorf("an image whose ID is not the locked config: %v", err)
	}
}

// run is `mlenv run` of the fixture's lock on its fake engine.
func (f *fixture) run(t *testing.T, spec runner.RunSpec, stdio runner.Stdio) error {
	t.Helper()
	return f.runWith(t, spec, stdio, runner.RunOptions{})
}

// runWith is run with options.
func (f *fixture) runWith(t *testing.T, spec runner.RunSpec, stdio runner.Stdio, o runner.RunOptions) error {
	t.Helper()
	f.lock.Packages = nil // the base image runs: these tests are about the run
	pl := &f.lock.Image.Platforms[0]
	pl.EnvDigest, pl.EnvConfig = pl.Digest, pl.Config
	if spec.ProjectDir == "" {
		spec.ProjectDir = t.TempDir()
	}
	if spec.Settings.Workdir == "" {
		spec.Settings = f.lock.Run
	}
	z := &runner.Lazy{Dial: func(context.Context) (runner.Client, error) { return f.fake, nil }}
	return runner.RunLock(context.Background(), z, f.lock, spec, stdio, o)
}

// Exit codes pass through; the container is created as [run] says and
// is gone when the run returns.
func TestRunLockExitCodeAndContainer(t *testing.T) {
	f := newFixture(t)
	f.fake.Programs["python"] = func(p *enginefake.Proc) int {
		fmt.Fprint(p.Stdout, "out:"+strings.Join(p.Argv, " "))
		fmt.Fprint(p.Stderr, "err")
		return 4
	}
	var out, errb bytes.Buffer
	spec := runner.RunSpec{Argv: []string{"python", "-c", "x"},
		Settings: schema.Run{Workdir: "/w", Network: "bridge", IPC: "host", User: "host", Env: map[string]string{"SEED": "1"}}}
	err := f.run(t, spec, runner.Stdio{Out: &out, Err: &errb})
	var exited *runner.ExitError
	if !errors.As(err, &exited) || exited.Code != 4 {
		t.Fatalf("err = %v, want exit 4", err)
	}
	if out.String() != "out:python -c x" || errb.String() != "err" {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
	cs := f.fake.Containers()
	if len(cs) != 1 || !cs[0].Removed || !cs[0].Host.AutoRemove {
		t.Fatalf("containers %+v: want one, auto-removed and gone", cs)
	}
	c := cs[0]
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	if c.Config.WorkingDir != "/w" || c.Config.User != user || !contains(c.Config.Env, "SEED=1") || !contains(c.Config.Env, "HOME=/tmp") ||
		string(c.Host.IpcMode) != "host" || c.Host.Mounts[0].Target != "/w" || c.Config.Labels[runner.LabelRun] == "" {
		t.Errorf("container config %+v, host %+v", c.Config, c.Host)
	}
}

// gpus = "auto" on an engine that serves no GPUs says so (on a terminal),
// and warns, naming the fix, where the machine shows NVIDIA GPUs.
func TestAutoIsNeverSilent(t *testing.T) {
	f := newFixture(t)
	f.fake.Programs["true"] = func(*enginefake.Proc) int { return 0 }
	root := t.TempDir()
	if err := os.MkdirAll(root+"/dev", 0o755); err != nil {
		t.Fatal(err)
	}
	var notices, warnings []string
	o := runner.RunOptions{Notice: func(s string) { notices = append(notices, s) }, Warn: func(s string) { warnings = append(warnings, s) }, Host: runner.GPUHost{Root: root}}
	spec := runner.RunSpec{Argv: []string{"true"}}
	quiet := runner.Stdio{Out: io.Discard, Err: io.Discard}
	if err := f.runWith(t, spec, quiet, o); err != nil {
		t.Fatal(err)
	}
	if len(notices) == 0 || !strings.Contains(notices[0], "Running without GPUs: this engine serves no NVIDIA GPUs") || len(warnings) != 0 {
		t.Errorf("no GPUs anywhere: notices %q, warnings %q", notices, warnings)
	}
	if err := os.WriteFile(root+"/dev/nvidia0", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	notices, warnings = nil, nil
	if err := f.runWith(t, spec, quiet, o); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "this machine has NVIDIA GPUs (/dev/nvidia0)") || !strings.Contains(warnings[0], "nvidia-ctk") {
		t.Errorf("GPUs the engine does not serve: warnings %q", warnings)
	}
}

// On a rootless engine, user = "host" is the container's root, which is
// the caller on the host (the caller's own uid would be a subordinate id).
func TestRunLockHostUserOnRootless(t *testing.T) {
	f := newFixture(t)
	f.fake.Rootless = true
	f.fake.Programs["true"] = func(*enginefake.Proc) int { return 0 }
	if err := f.run(t, runner.RunSpec{Argv: []string{"true"}, Settings: schema.Run{Workdir: "/src", Network: "bridge", User: "host"}}, runner.Stdio{Out: io.Discard, Err: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if u := f.fake.Containers()[0].Config.User; u != "0:0" {
		t.Errorf("user = host on a rootless engine runs as %q, want 0:0", u)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// A command that does not exist is docker run's 127, with the engine's
// words; an engine that cannot be reached fails before the start (125).
func TestRunLockBeforeStart(t *testing.T) {
	f := newFixture(t)
	err := f.run(t, runner.RunSpec{Argv: []string{"nope"}}, runner.Stdio{Out: io.Discard, Err: io.Discard})
	var exited *runner.ExitError
	if !errors.As(err, &exited) || exited.Code != 127 || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("missing command: %v", err)
	}
	if live := f.fake.Live(); len(live) != 0 {
		t.Errorf("containers left: %+v", live)
	}
	z := &runner.Lazy{Dial: func(context.Context) (runner.Client, error) { return nil, errors.New("no engine") }}
	if err := runner.RunLock(context.Background(), z, f.lock, runner.RunSpec{Argv: []string{"true"}}, runner.Stdio{}, runner.RunOptions{}); !errors.Is(err, runner.ErrBeforeStart) {
		t.Errorf("no engine: %v", err)
	}
}

// stdin reaches the command with Stdin set.
func TestRunLockStdin(t *testing.T) {
	f := newFixture(t)
	f.fake.Programs["cat"] = func(p *enginefake.Proc) int {
		io.Copy(p.Stdout, p.Stdin)
		return 0
	}
	var out bytes.Buffer
	err := f.run(t, runner.RunSpec{Argv: []string{"cat"}, Stdin: true}, runner.Stdio{In: strings.NewReader("piped data"), Out: &out, Err: io.Discard})
	if err != nil || out.String() != "piped data" {
		t.Errorf("stdin: %q, %v", out.String(), err)
	}
}

// Ctrl-C is passed on as SIGINT, SIGTERM as SIGTERM; the run returns when
// the command has stopped, with the context's error, the container gone.
func TestRunInterrupt(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		f := newFixture(t)
		started := make(chan struct{})
		f.fake.Programs["train"] = func(p *enginefake.Proc) int {
			close(started)
			<-p.Signals
			return 130
		}
		pl := f.lock.Image.Platforms[0]
		image, err := f.engine.EnsureImage(context.Background(), runner.ImageRef{Repository: baseRepo, Digest: pl.Digest, Platform: pl.Platform, Config: pl.Config}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			<-started
			cancel(runner.Interrupted{Signal: sig})
		}()
		done := make(chan error, 1)
		go func() {
			_, err := f.engine.Run(ctx, runner.RunSpec{Image: image, ProjectDir: t.TempDir(), Settings: f.lock.Run, Argv: []string{"train"}}, runner.Stdio{Out: io.Discard, Err: io.Discard})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%v: err = %v, want the cancellation", sig, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: Run did not return", sig)
		}
		want := map[os.Signal]string{os.Interrupt: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
		if c := f.fake.Containers()[0]; len(c.Signals) == 0 || c.Signals[0] != want || !c.Removed {
			t.Errorf("%v: the container got %v (removed %v), want %s", sig, c.Signals, c.Removed, want)
		}
	}
}

// The device requests the engine records for each gpus value, and the
// GPUs given to the process narrowing "all" and "auto".
func TestRunLockGPUs(t *testing.T) {
	for _, name := range []string{"SLURM_JOB_ID", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	f := newFixture(t)
	f.fake.Programs["true"] = func(*enginefake.Proc) int { return 0 }
	run := func(gpus schema.GPUs) (string, error) {
		n := len(f.fake.Containers())
		settings := f.lock.Run
		settings.GPUs = gpus
		err := f.run(t, runner.RunSpec{Argv: []string{"true"}, Settings: settings}, runner.Stdio{Out: io.Discard, Err: io.Discard})
		cs := f.fake.Containers()
		if len(cs) == n {
			return "no container", err
		}
		reqs := cs[len(cs)-1].Host.DeviceRequests
		if len(reqs) == 0 {
			return "none", err
		}
		return fmt.Sprintf("%s %d %v", reqs[0].Driver, reqs[0].Count, reqs[0].DeviceIDs), err
	}
	if got, err := run("auto"); got != "none" || err != nil {
		t.Errorf("auto on an engine without an NVIDIA runtime: %s, %v", got, err)
	}
	if got, err := run("all"); got != "no container" || !errors.Is(err, runner.ErrNoGPURuntime) {
		t.Errorf("all on an engine without an NVIDIA runtime: %s, %v", got, err)
	}
	f.fake.Runtimes["nvidia"] = system.RuntimeWithStatus{}
	for gpus, want := range map[schema.GPUs]string{"all": "nvidia -1 []", "auto": "nvidia -1 []", "2": "nvidia 2 []", "device=1,3": "nvidia 0 [1 3]", "none": "none"} {
		if got, err := run(gpus); got != want || err != nil {
			t.Errorf("gpus %s: %s, %v; want %s", gpus, got, err, want)
		}
	}
	t.Setenv("SLURM_JOB_ID", "42") // a job given no GPUs takes none
	for _, gpus := range []schema.GPUs{"all", "auto"} {
		if got, err := run(gpus); got != "none" || err != nil {
			t.Errorf("%s in a job given no GPUs: %s, %v", gpus, got, err)
		}
	}
	t.Setenv("SLURM_STEP_GPUS", "2,3")
	if got, err := run("all"); got != "nvidia 0 [2 3]" || err != nil {
		t.Errorf("all in a job given GPUs 2,3: %s, %v", got, err)
	}
	if got, err := run("1"); got != "nvidia 0 [2]" || err != nil {
		t.Errorf("1 in a job given GPUs 2,3: %s, %v", got, err)
	}
	if got, err := run("3"); got != "no container" || !errors.Is(err, runner.ErrBeforeStart) || !strings.Contains(err.Error(), "given 2 GPUs") {
		t.Errorf("3 in a job given GPUs 2,3: %s, %v", got, err)
	}
}

// GPUs are found where the engine finds them: the hook on the engine's
// PATH (not mlenv's), CDI specs for podman; an engine that records no
// device request for the GPUs asked is an error, not a CPU run.
func TestGPUSupportAsTheEngineFindsIt(t *testing.T) {
	for _, name := range []string{"SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	hookDir := t.TempDir()
	if err := os.WriteFile(hookDir+"/nvidia-container-runtime-hook", []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	f := newFixture(t)
	f.fake.DaemonPATH = "/usr/bin:" + hookDir
	s, err := f.engine.GPUSupport(ctx)
	if err != nil || s.Driver() != "nvidia" || s.Hook != hookDir+"/nvidia-container-runtime-hook" {
		t.Errorf("hook on the engine's PATH: %+v, %v", s, err)
	}

	f = newFixture(t)
	f.fake.DaemonPATH = "/usr/bin"
	t.Setenv("PATH", os.Getenv("PATH")+":"+hookDir)
	s, _ = f.engine.GPUSupport(ctx)
	if s.Serves() || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "not on the engine's") {
		t.Errorf("hook on mlenv's PATH only: %+v", s)
	}

	cdiDir := t.TempDir()
	spec := "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n  - name: \"0\"\n  - name: \"1\"\n  - name: all\n"
	if err := os.WriteFile(cdiDir+"/nvidia.yaml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	f = newFixture(t)
	f.fake.Podman, f.fake.PodmanCDIDirs = true, []string{cdiDir}
	f.fake.Runtimes["nvidia"] = system.RuntimeWithStatus{} // podman does not use it
	f.fake.Programs["true"] = func(*enginefake.Proc) int { return 0 }
	s, _ = f.engine.GPUSupport(ctx)
	if s.Driver() != "cdi" || strings.Join(s.CDI, " ") != "nvidia.com/gpu=0 nvidia.com/gpu=1 nvidia.com/gpu=all" {
		t.Errorf("podman with a CDI spec: %+v", s)
	}
	settings := f.lock.Run
	settings.GPUs = "1"
	if err := f.run(t, runner.RunSpec{Argv: []string{"true"}, Settings: settings}, runner.Stdio{Out: io.Discard, Err: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if reqs := f.fake.Containers()[0].Host.DeviceRequests; len(reqs) != 1 || reqs[0].Driver != "cdi" || strings.Join(reqs[0].DeviceIDs, ",") != "nvidia.com/gpu=0" {
		t.Errorf("gpus 1 by CDI: %+v", reqs)
	}
	f.fake.DropDeviceRequests = true
	err = f.run(t, runner.RunSpec{Argv: []string{"true"}, Settings: settings}, runner.Stdio{Out: io.Discard, Err: io.Discard})
	if !errors.Is(err, runner.ErrBeforeStart) || !strings.Contains(err.Error(), "did not record") {
		t.Errorf("an engine that drops the GPU request: %v", err)
	}
	if len(f.fake.Live()) != 0 {
		t.Errorf("containers left: %+v", f.fake.Live())
	}
}

// BaseImage gives the fixture's base (a runner.BaseSource).
func (f *fixture) BaseImage(context.Context, *lock.Lock, string) (v1.Image, error) {
	return f.base, nil
}

// listVenv stands in for the venv's python listing what it holds: it
// reads the dist-info directories of the container's image.
func (f *fixture) listVenv(p *enginefake.Proc) int {
	fs, err := f.fake.FS(p.Image)
	if err != nil {
		fmt.Fprintln(p.Stderr, err)
		return 1
	}
	dists := map[string]string{}
	for name, body := range fs {
		if strings.HasPrefix(name, lock.VenvPath+"/lib/") && strings.HasSuffix(name, ".dist-info/METADATA") {
			var n, v string
			for _, line := range strings.Split(string(body), "\n") {
				if k, val, ok := strings.Cut(line, ": "); ok && k == "Name" {
					n = val
				} else if ok && k == "Version" {
					v = val
				}
			}
			dists[n] = v
		}
	}
	b, _ := json.Marshal(dists)
	fmt.Fprintln(p.Stdout, string(b))
	return 0
}

// verify --deep builds from the index, checks the digests and what the
// venv holds; a venv that holds something else is named.
func TestVerifyEnv(t *testing.T) {
	f := newFixture(t)
	f.fake.Programs[lock.VenvPython] = f.listVenv
	o := runner.VerifyOptions{Base: f}
	if err := f.engine.VerifyEnv(context.Background(), f.lock, o); err != nil {
		t.Fatalf("VerifyEnv: %v", err)
	}
	if f.index.Downloads()["alpha-1.0-py3-none-any.whl"] != 1 {
		t.Errorf("downloads %v: want the wheel fetched from the index once", f.index.Downloads())
	}
	f.fake.Programs[lock.VenvPython] = func(p *enginefake.Proc) int {
		fmt.Fprintln(p.Stdout, `{"alpha": "1.0", "extra": "6.6.6"}`)
		return 0
	}
	if err := f.engine.VerifyEnv(context.Background(), f.lock, o); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("a venv with more than the lock: %v", err)
	}
}

// cache prune removes mlenv's names only: an image someone else named
// keeps that name, one a container uses stays (and prune goes on).
func TestPruneRemovesOnlyWhatMlenvNamed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := f.env(t)
	var warn []string
	id, err := f.engine.EnsureEnv(ctx, env, f.options(&warn))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.EnsureVolume(ctx, "mlenv-pip-cache"); err != nil {
		t.Fatal(err)
	}
	f.fake.Tag(id, "keep:paper")
	var report []string
	prune := func(o runner.PruneOptions) {
		report = nil
		if err := f.engine.Prune(ctx, o, func(what string, err error) { report = append(report, fmt.Sprint(what, " ", err)) }); err != nil {
			t.Fatal(err)
		}
	}
	prune(runner.PruneOptions{Keys: runner.EnvKeys(f.lock)})
	if _, err := f.fake.ImageInspect(ctx, "keep:paper"); err != nil || f.engine.HasImage(ctx, env.Image()) {
		t.Errorf("after prune: keep:paper %v, %s still there %v (report %q)", err, env.Image(), f.engine.HasImage(ctx, env.Image()), report)
	}
	if _, err := f.fake.ImageRemove(ctx, "keep:paper", client.ImageRemoveOptions{}); err != nil || f.engine.HasImage(ctx, id) {
		t.Fatalf("the last name's removal removes the image: %v", err)
	}
	if id, err = f.engine.EnsureEnv(ctx, env, f.options(&warn)); err != nil {
		t.Fatal(err)
	}
	f.fake.AddContainer(id, nil)
	prune(runner.PruneOptions{All: true})
	if len(report) != 2 || !strings.Contains(report[0], runner.ErrInUse.Error()) || !strings.HasSuffix(report[1], "<nil>") {
		t.Errorf("prune --all with the image in use: %q", report)
	}
	if _, ok := f.fake.Volumes()["mlenv-pip-cache"]; ok {
		t.Error("the pip-cache volume stayed")
	}
}

// The next mlenv removes the task containers of a dead mlenv of this
// host, and keeps those of live ones.
func TestSweepLeftovers(t *testing.T) {
	f := newFixture(t)
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pl := f.lock.Image.Platforms[0]
	f.fake.Programs["python3"] = func(*enginefake.Proc) int { return 0 }
	req := task.Request{Repository: baseRepo, Digest: pl.Digest, Platform: pl.Platform, Config: pl.Config, Argv: []string{"python3", "-c", "pass"}}
	if _, err := f.engine.Exec(context.Background(), req); err != nil { // pulls the base
		t.Fatal(err)
	}
	deadID := f.fake.AddContainer(pl.Config, map[string]string{runner.LabelTask: "1", runner.LabelOwner: fmt.Sprintf("%s/%d", host, dead.Process.Pid)})
	liveID := f.fake.AddContainer(pl.Config, map[string]string{runner.LabelTask: "1", runner.LabelOwner: fmt.Sprintf("%s/%d", host, os.Getpid())})
	fresh := runner.New(f.fake) // the next mlenv process
	if _, err := fresh.Exec(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for _, c := range f.fake.Live() {
		live[c.ID] = true
	}
	if live[deadID] || !live[liveID] {
		t.Errorf("live containers %v: want the dead owner's %s gone and the live one's %s kept", live, deadID, liveID)
	}
}

// In the layers layout a load sends only the layers the engine lacks:
// adding a small package sends that package's layer, not the rest again.
func TestLoadSendsOnlyTheNewLayers(t *testing.T) {
	f := newFixture(t)
	f.lock.Image.EnvLayout = lock.LayoutLayers
	first := f.lockEnv(t)
	var warn []string
	if _, err := f.engine.EnsureEnv(context.Background(), f.env(t), f.options(&warn)); err != nil {
		t.Fatal(err)
	}
	var envBytes int64
	for _, l := range first.EnvLayers() {
		n, _ := l.Size()
		envBytes += n
	}
	if got := f.fake.LoadedLayerBytes; got != envBytes {
		t.Fatalf("the first load sent %d layer bytes, want the environment's %d (the base is the engine's)", got, envBytes)
	}
	tiny := pypitest.Wheel{Name: "tiny", Version: "1.0"}
	if err := os.WriteFile(f.wheelhouse+"/"+tiny.Filename(), tiny.Build(), 0o644); err != nil {
		t.Fatal(err)
	}
	f.lock.Packages = append(f.lock.Packages, lock.Package{Name: "tiny", Version: "1.0", Index: f.index.URL,
		Hashes: []string{fileHash(tiny.Build())}, URL: strings.TrimSuffix(f.index.URL, "/simple") + "/files/" + tiny.Filename()})
	second := f.lockEnv(t)
	before := f.fake.LoadedLayerBytes
	if _, err := f.engine.EnsureEnv(context.Background(), f.env(t), f.options(&warn)); err != nil {
		t.Fatal(err)
	}
	top, _ := second.Layer().Size()
	if sent := f.fake.LoadedLayerBytes - before; sent != top || len(second.EnvLayers()) != 3 {
		t.Errorf("adding a package sent %d layer bytes, want only its layer's %d (%d layers)", sent, top, len(second.EnvLayers()))
	}
}
