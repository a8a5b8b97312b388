package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

// lockedRunProject is a locked project on the python image with two
// packages from a local index, and a file in the project directory.
func lockedRunProject(t *testing.T, idx *pypitest.Index, extra string) string {
	t.Helper()
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n%s", idx.URL, extra))
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello from the project")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	return dir
}

func TestRunFromLock(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\nworkdir = \"/work\"\nenv = { GREETING = \"hi\" }\npip-cache = \"mlenv-test-pip-cache\"\n")
	script := "import alpha, beta, os; print(alpha.__version__, beta.__version__, os.getcwd(), os.environ['GREETING'], open('hello.txt').read())"
	first := mlenv(t, dir, "run", "--rebuild", "--", "python3", "-c", script)
	if first.code != 0 || strings.TrimSpace(first.stdout) != "1.0 1.0 /work hi hello from the project" {
		t.Fatalf("first run: exit %d\nstdout: %s\nstderr: %s", first.code, first.stdout, first.stderr)
	}
	if !strings.Contains(first.stderr, "Installing 2 locked packages") {
		t.Errorf("first run did not install: %s", first.stderr)
	}
	// Off a terminal, each phase of the build is one line with its
	// duration, and nothing is redrawn. The lock computed the layers'
	// digests, so the run only streams them into the engine.
	for _, re := range []string{`(?m)^Loading mlenv-env:\S+ into the engine: \S+ in \S+s$`} {
		if !regexp.MustCompile(re).MatchString(first.stderr) || strings.Contains(first.stderr, "\r") {
			t.Errorf("the first run's log has no line %s:\n%s", re, first.stderr)
		}
	}
	downloads := idx.Downloads()
	second := mlenv(t, dir, "run", "--", "python3", "-c", script)
	if second.code != 0 || second.stdout != first.stdout {
		t.Fatalf("second run: exit %d\n%s\n%s", second.code, second.stdout, second.stderr)
	}
	if strings.Contains(second.stderr, "Installing") || second.stderr != "" {
		t.Errorf("second run installed again or printed: %q", second.stderr)
	}
	// Someone else names the environment image; a rebuild must not take
	// their name away (mlenv removes only what it named).
	envImage := strings.TrimSpace(strings.SplitN(strings.SplitN(first.stderr, " into ", 2)[1], "\n", 2)[0])
	enginetest.Docker(t, nil, "tag", envImage, "mlenv-test-keep:paper")
	t.Cleanup(func() { exec.Command("docker", "rmi", "mlenv-test-keep:paper").Run() })
	// A fresh install of the same packages takes every file from the
	// pip-cache volume: the index serves nothing.
	if r := mlenv(t, dir, "run", "--rebuild", "--", "true"); r.code != 0 {
		t.Fatalf("--rebuild: %s", r.stderr)
	}
	if err := exec.Command("docker", "image", "inspect", "mlenv-test-keep:paper").Run(); err != nil {
		t.Errorf("--rebuild removed an image someone else named: %v", err)
	}
	if after := idx.Downloads(); fmt.Sprint(after) != fmt.Sprint(downloads) {
		t.Errorf("a second environment downloaded again: %v, then %v", downloads, after)
	}
	if out := enginetest.Docker(t, nil, "ps", "-aq", "--filter", "label="+runner.LabelRun); out != "" {
		t.Errorf("containers left behind: %s", out)
	}
}

func TestRunExitCodes(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\ncommand = [\"python3\", \"-c\", \"import sys; sys.exit(7)\"]\n")
	if r := mlenv(t, dir, "run"); r.code != 7 {
		t.Errorf("[run] command exiting 7: mlenv exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--", "no-such-program"); r.code != 127 || !strings.Contains(r.stderr, "no-such-program") {
		t.Errorf("missing program: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--gpus", "all", "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "no NVIDIA runtime") || !strings.Contains(r.stderr, "nvidia-ctk") {
		t.Errorf("gpus all without an NVIDIA runtime: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--gpus", "auto", "--", "true"); r.code != 0 {
		t.Errorf("gpus auto without an NVIDIA runtime: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "-v", "./missing:/data", "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("missing mount: exit %d: %s", r.code, r.stderr)
	}
	// A mount on the command line is the user's own word: outside the
	// project it is mounted; in mlenv.toml (someone else's repository) it
	// needs --allow-outside-mounts.
	if r := mlenv(t, dir, "run", "-v", "/etc:/host-etc:ro", "--", "test", "-f", "/host-etc/os-release"); r.code != 0 {
		t.Errorf("-v outside the project: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--frozen", "--mount", "/etc:/e:ro", "--", "true"); r.code != 0 {
		t.Errorf("--mount outside the project: exit %d: %s", r.code, r.stderr)
	}
	// A stale lock stops the run (exit 3) unless --frozen.
	spec := filepath.Join(dir, "mlenv.toml")
	writeFile(t, spec, strings.Replace(readFile(t, spec), "sys.exit(7)", "sys.exit(8)", 1))
	if r := mlenv(t, dir, "run"); r.code != 3 || !strings.Contains(r.stderr, "stale") || !strings.Contains(r.stderr, "[run]") {
		t.Errorf("stale lock: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--frozen"); r.code != 7 {
		t.Errorf("--frozen runs the locked command: exit %d: %s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(dir, "mlenv.lock"))
	if r := mlenv(t, dir, "run"); r.code != 3 || !strings.Contains(r.stderr, "run `mlenv lock`") {
		t.Errorf("no lock: exit %d: %s", r.code, r.stderr)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// mlenvBinary builds mlenv once, for tests that signal it or run it as
// another user.
func mlenvBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mlenv-bin-")
		if err != nil {
			binErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "mlenv")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestInterruptRemovesContainer sends SIGINT to a running mlenv, as
// Ctrl-C does: the container gets it and stops, mlenv returns once it has
// (not seconds later), exits 130 and leaves no container behind. A
// container that ignores SIGINT keeps running, as under docker, until a
// second Ctrl-C kills it.
func TestInterruptRemovesContainer(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "")
	if r := mlenv(t, dir, "run", "--", "true"); r.code != 0 { // build the environment first
		t.Fatal(r.stderr)
	}
	// python stops on SIGINT at once; the old code waited a fixed 5 s
	cmd, errb := startRun(t, dir, "import time; print('started', flush=True); time.sleep(120)")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("mlenv after SIGINT: exit %d (%v): %s", code, err, errb.String())
	}
	took := time.Since(start)
	t.Logf("mlenv returned %v after SIGINT", took)
	if took > 4*time.Second {
		t.Errorf("mlenv returned %v after the container stopped on SIGINT, not when it stopped", took)
	}
	if left := enginetest.Docker(t, nil, "ps", "-aq", "--filter", "label="+runner.LabelRun); left != "" {
		t.Errorf("containers left after SIGINT: %s", left)
	}
	cmd, errb = startRun(t, dir, "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('started', flush=True); time.sleep(120)")
	cmd.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
		t.Fatalf("mlenv returned while its container, which ignores SIGINT, still ran: %s", errb.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT) // the second Ctrl-C kills
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("a second SIGINT did not end the run")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("mlenv after two SIGINTs: exit %d: %s", code, errb.String())
	}
	if left := enginetest.Docker(t, nil, "ps", "-aq", "--filter", "label="+runner.LabelRun); left != "" {
		t.Errorf("containers left after two SIGINTs: %s", left)
	}
}

// startRun starts the mlenv binary running python code in dir's locked
// environment and returns once the code printed "started".
func startRun(t *testing.T, dir, code string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(mlenvBinary(t), "--file", filepath.Join(dir, "mlenv.toml"), "run", "--", "python3", "-c", code)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "the command to start", func() bool { return strings.Contains(out.String(), "started") })
	return cmd, &errb
}

// TestUserHostOwnsFiles runs mlenv as an unprivileged user (in the docker
// group) with user = "host": what the container writes into the project
// belongs to that user, not root; HOME is the user's mlenv home, kept
// from run to run (a model downloaded once stays), and cache ls shows it.
func TestUserHostOwnsFiles(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\nuser = \"host\"\n")
	if r := mlenv(t, dir, "run", "--", "true"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	group, err := user.LookupGroup("docker")
	if err != nil {
		enginetest.Missing(t, "the docker group (Debian's docker.io creates it)")
	}
	gid, _ := strconv.Atoi(group.Gid)
	const uid = 4321
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	home := t.TempDir()
	os.Chown(home, uid, uid)
	asUser := func(args ...string) string {
		cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{uint32(gid)}}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mlenv %v as uid %d: %v\n%s", args, uid, err, out)
		}
		return string(out)
	}
	download := "import os; p = os.path.expanduser('~/.cache/hub/model.bin'); kept = os.path.exists(p); os.makedirs(os.path.dirname(p), exist_ok=True); open(p, 'w').write('weights'); open('written.txt', 'w').write(os.environ['HOME']); print('kept' if kept else 'downloaded')"
	if out := asUser("run", "--", "python3", "-c", download); !strings.Contains(out, "downloaded") {
		t.Fatalf("first run: %s", out)
	}
	if out := asUser("run", "--", "python3", "-c", download); !strings.Contains(out, "kept") {
		t.Errorf("the second run lost what the first put in HOME: %s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "written.txt")); string(b) != runner.HomeDir {
		t.Errorf("HOME in the container is %q, want %s", b, runner.HomeDir)
	}
	mlenvHome := filepath.Join(home, ".cache", "mlenv", "home")
	if out := asUser("cache", "ls"); !strings.Contains(out, "home "+mlenvHome) {
		t.Errorf("cache ls does not show the home directory %s:\n%s", mlenvHome, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "written.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != uid {
		t.Errorf("written.txt is owned by %d:%d, want %d:%d", st.Uid, st.Gid, uid, uid)
	}
}

// TestPipCacheInEveryRun: an ad-hoc pip install in a run takes its files
// from the pip-cache volume the second time (the index serves nothing),
// and what it installed goes with the container: the environment stays
// the lock's.
func TestPipCacheInEveryRun(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\nnetwork = \"host\"\npip-cache = \"mlenv-test-adhoc-pip-cache\"\n")
	t.Cleanup(func() { exec.Command("docker", "volume", "rm", "-f", "mlenv-test-adhoc-pip-cache").Run() })
	// pip caches what an https index serves, and a plain-http one's only
	// when it is trusted.
	host := strings.Split(strings.TrimPrefix(idx.URL, "http://"), "/")[0]
	install := []string{"run", "--", "python3", "-m", "pip", "install", "--no-deps", "--index-url", idx.URL, "--trusted-host", host, "delta==1.0"}
	if r := mlenv(t, dir, install...); r.code != 0 {
		t.Fatalf("pip install in a run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	before := idx.Downloads()
	if r := mlenv(t, dir, install...); r.code != 0 || !strings.Contains(r.stdout, "Successfully installed delta-1.0") {
		t.Fatalf("the second pip install: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := idx.Downloads(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the second install downloaded again: %v, then %v", before, after)
	}
	if r := mlenv(t, dir, "run", "--", "python3", "-c", "import delta"); r.code == 0 {
		t.Errorf("a package installed in one run is in the next: the environment is not the lock's")
	}
	if r := mlenv(t, dir, "cache", "ls"); !strings.Contains(r.stdout, "volume mlenv-test-adhoc-pip-cache") {
		t.Errorf("cache ls does not show the pip-cache volume:\n%s", r.stdout)
	}
}

// TestGPURequestsReachTheEngine creates (without starting: this machine
// has no GPU) a run container asking for GPUs and reads what the engine
// recorded.
func TestGPURequestsReachTheEngine(t *testing.T) {
	engine := enginetest.Engine(t)
	img := enginetest.PythonImage(t)
	ctx := context.Background()
	// inside a Slurm step given GPUs 2 and 3, "all" means those two
	step := runner.GivenGPUs(func(k string) (string, bool) {
		v, ok := map[string]string{"SLURM_JOB_ID": "7", "SLURM_STEP_GPUS": "2,3"}[k]
		return v, ok
	})
	inStep, err := step.Narrow("all")
	if err != nil {
		t.Fatal(err)
	}
	for gpus, want := range map[schema.GPUs]string{"all": "-1 []", "2": "2 []", "device=0,1": "0 [0 1]", inStep: "0 [2 3]"} {
		spec := runner.RunSpec{Image: img, ProjectDir: t.TempDir(), Settings: schema.Run{Workdir: "/src", Network: "bridge", GPUs: gpus}, Argv: []string{"true"}, GPUs: gpus}
		id, err := engine.Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		got := enginetest.Docker(t, nil, "inspect", "--format", "{{range .HostConfig.DeviceRequests}}{{.Driver}} {{.Count}} {{.DeviceIDs}} {{.Capabilities}}{{end}}", id)
		enginetest.Docker(t, nil, "rm", "-f", id)
		if got != "nvidia "+want+" [[gpu]]" {
			t.Errorf("gpus %s: engine recorded %q, want %q", gpus, got, "nvidia "+want+" [[gpu]]")
		}
	}
}

// TestRunImageGone: the locked digest is deleted from the registry and is
// not on the machine: run says so clearly and exits 125.
func TestRunImageGone(t *testing.T) {
	enginetest.Engine(t)
	host := enginetest.Registry(t)
	ref := host + "/mlenv-test/gone:1"
	enginetest.Docker(t, tinyRootfs(t, "soon gone "+time.Now().String()), "import", "-", ref)
	enginetest.Docker(t, nil, "push", "--quiet", ref)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), "[image]\nref = \""+ref+"\"\n[run]\ncommand = [\"/bin/true\"]\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	l := readLock(t, dir)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/mlenv-test/gone/manifests/"+l.Image.Digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete the manifest: %v %v", resp, err)
	}
	enginetest.Docker(t, nil, "rmi", "-f", ref)
	r := mlenv(t, dir, "run")
	if r.code != 125 || !strings.Contains(r.stderr, "no longer exists in its registry") {
		t.Errorf("run of a deleted image: exit %d: %s", r.code, r.stderr)
	}
}

func TestPrintAndCache(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\ngpus = 2\nipc = \"host\"\nenv = { MSG = \"it's here\" }\ncommand = [\"python3\", \"train.py\"]\n")
	r := mlenv(t, dir, "run", "--print")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, want := range []string{"docker run --rm", "--gpus 2", "-v " + dir + ":/src -w /src", "--ipc host", `-e 'MSG=it'\''s here'`, "mlenv-env:", "python3 train.py"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--print lacks %q:\n%s", want, r.stdout)
		}
	}
	// A value given on the command line may be a secret: named, not
	// printed; a project path docker's -v cannot say goes by --mount.
	r = mlenv(t, dir, "run", "--print", "-e", "WANDB_API_KEY=s3cret-key")
	if r.code != 0 || strings.Contains(r.stdout, "s3cret-key") || !strings.Contains(r.stdout, "-e WANDB_API_KEY ") || !strings.Contains(r.stdout, "WANDB_API_KEY is passed from your environment") {
		t.Errorf("--print with -e KEY=secret: exit %d\n%s", r.code, r.stdout)
	}
	colon := filepath.Join(t.TempDir(), "run:1")
	if err := os.Symlink(dir, colon); err != nil {
		t.Fatal(err)
	}
	r = mlenv(t, colon, "run", "--print")
	if r.code != 0 || !strings.Contains(r.stdout, "--mount type=bind,source="+colon+",target=/src") {
		t.Errorf("--print of a project path with a colon: exit %d\n%s", r.code, r.stdout)
	}
	// "all" inside a job: the GPUs it was given, not the machine's
	t.Setenv("CUDA_VISIBLE_DEVICES", "GPU-5a3e8f0c,GPU-7c1d2e3f")
	r = mlenv(t, dir, "run", "--print", "--gpus", "all")
	if r.code != 0 || !strings.Contains(r.stdout, `--gpus '"device=GPU-5a3e8f0c,GPU-7c1d2e3f"'`) || !strings.Contains(r.stdout, "CUDA_VISIBLE_DEVICES") {
		t.Errorf("--print with CUDA_VISIBLE_DEVICES: exit %d\n%s", r.code, r.stdout)
	}
	os.Unsetenv("CUDA_VISIBLE_DEVICES")
	// gpus = "auto" on this engine, which has no NVIDIA runtime: no --gpus,
	// which would fail here; and how a reader gets the image without mlenv
	r = mlenv(t, dir, "run", "--print", "--gpus", "auto")
	if r.code != 0 || strings.Contains(r.stdout, "--gpus") || !strings.Contains(r.stdout, "mlenv export dockerfile") {
		t.Errorf("--print with gpus auto: exit %d\n%s", r.code, r.stdout)
	}
	if r := mlenv(t, dir, "run", "--gpus", "none", "--", "true"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ls := mlenv(t, dir, "cache", "ls", "--json")
	if ls.code != 0 || !strings.Contains(ls.stdout, `"image": "mlenv-env:`) || !strings.Contains(ls.stdout, `"name": "mlenv-pip-cache"`) {
		t.Errorf("cache ls: exit %d\n%s\n%s", ls.code, ls.stdout, ls.stderr)
	}
	if r := mlenv(t, dir, "cache", "prune", "--all"); r.code != 0 || !strings.Contains(r.stderr, "removed mlenv-env:") {
		t.Errorf("cache prune: exit %d: %s", r.code, r.stderr)
	}
	if left := enginetest.Docker(t, nil, "images", "-q", "--filter", "label="+runner.LabelEnv); left != "" {
		t.Errorf("environment images left after prune: %s", left)
	}
}

func TestNoEngineIsClear(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	r := mlenv(t, dir, "run", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "cannot reach the Docker engine") || !strings.Contains(r.stderr, "DOCKER_HOST") || strings.Contains(r.stderr, "goroutine") {
		t.Errorf("no engine: exit %d: %s", r.code, r.stderr)
	}
}

func TestUnknownFamilyIsBadInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), "[image]\nfamily = \"pytorh\"\n")
	r := mlenv(t, dir, "lock")
	if r.code != 2 || !strings.Contains(r.stderr, `mlenv.toml:2: image.family: unknown family "pytorh"`) || !strings.Contains(r.stderr, `did you mean "pytorch"?`) {
		t.Errorf("unknown family: exit %d: %s", r.code, r.stderr)
	}
}

// TestRunOnATerminal runs mlenv under a pseudo-terminal (script(1)) of 123
// columns: the container gets a TTY of the terminal's size.
func TestRunOnATerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		enginetest.Missing(t, "script(1) from util-linux")
	}
	dir := pipProject(t, pythonRef(t), "[run]\ngpus = \"none\"\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Engines before API 1.42 (Debian's 20.10 is 1.41) take the size only
	// after start, as docker's own CLI gives it; the probe looks a moment
	// later, as any real command does. Newer engines get it at create.
	probe := "import os, sys, time; time.sleep(0.5); print('tty', sys.stdin.isatty(), sys.stdout.isatty(), os.get_terminal_size().columns)"
	shell := fmt.Sprintf("stty cols 123 rows 40; %s --file %s run -- python3 -c %q", mlenvBinary(t), filepath.Join(dir, "mlenv.toml"), probe)
	out, err := exec.Command(scriptBin, "-qec", shell, "/dev/null").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tty True True 123") {
		t.Errorf("under a terminal: %v\n%s", err, out)
	}
}

// TestRunPipesStdin: with -i, piped stdin reaches the command.
func TestRunPipesStdin(t *testing.T) {
	dir := pipProject(t, pythonRef(t), "[run]\ngpus = \"none\"\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var out, errb bytes.Buffer
	code := execute(context.Background(), []string{"--file", filepath.Join(dir, "mlenv.toml"), "run", "-i", "--", "python3", "-c", "import sys; print(sys.stdin.read().upper())"},
		strings.NewReader("from a pipe"), &out, &errb)
	if code != 0 || strings.TrimSpace(out.String()) != "FROM A PIPE" {
		t.Errorf("run -i: exit %d, stdout %q, stderr %s", code, out.String(), errb.String())
	}
}

// taskContainers lists mlenv's task containers whose owner label is owner
// ("" for any).
func taskContainers(t *testing.T, owner string) string {
	filter := runner.LabelTask
	if owner != "" {
		filter = runner.LabelOwner + "=" + owner
	}
	return enginetest.Docker(t, nil, "ps", "-aq", "--filter", "label="+filter)
}

// TestKilledMlenvLeavesNothing: an mlenv killed with SIGKILL while its
// task container runs leaves nothing behind: a resolver task goes with its
// process (auto-remove), and the pip install task whose venv it was to
// read (a lock with an sdist) is removed by the next mlenv, which finds
// its owner dead.
func TestKilledMlenvLeavesNothing(t *testing.T) {
	idx, _ := sdistIndex(t)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\", \"sigma\"]\nindex-url = %q\n[run]\ngpus = \"none\"\n", idx.URL))
	bin := mlenvBinary(t)
	for _, args := range [][]string{{"lock"}, {"run", "--", "true"}} {
		cmd := exec.Command(bin, append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		owner := fmt.Sprintf("%s/%d", hostname(t), cmd.Process.Pid)
		waitFor(t, "a task container of mlenv "+args[0], func() bool { return taskContainers(t, owner) != "" })
		cmd.Process.Kill()
		cmd.Wait()
		if args[0] == "lock" {
			// the resolver's container goes by itself once pip ends
			waitFor(t, "the killed lock's task container to go", func() bool { return taskContainers(t, owner) == "" })
			if r := mlenv(t, dir, "lock"); r.code != 0 {
				t.Fatalf("lock after the kill: %s", r.stderr)
			}
			continue
		}
		if r := mlenv(t, dir, "run", "--rebuild", "--", "true"); r.code != 0 {
			t.Fatalf("run after the kill: %s", r.stderr)
		}
		if left := taskContainers(t, owner); left != "" {
			t.Errorf("the next mlenv did not remove the killed one's task container: %s", left)
		}
	}
}

// TestConcurrentColdRuns: two cold runs of one lock at once build one
// environment image, not one each (the loser's an orphan).
func TestConcurrentColdRuns(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\ngpus = \"none\"\n")
	first := mlenv(t, dir, "run", "--", "true")
	if first.code != 0 {
		t.Fatal(first.stderr)
	}
	envImage := strings.TrimSpace(strings.SplitN(strings.SplitN(first.stderr, " into ", 2)[1], "\n", 2)[0])
	enginetest.Docker(t, nil, "rmi", envImage)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = mlenv(t, dir, "run", "--", "true").code
		}()
	}
	wg.Wait()
	key := strings.TrimPrefix(envImage, runner.EnvImagePrefix+":")
	images := strings.Fields(enginetest.Docker(t, nil, "images", "-aq", "--no-trunc", "--filter", "label="+runner.LabelEnv+"="+key))
	if codes[0] != 0 || codes[1] != 0 || len(images) != 1 {
		t.Errorf("two cold runs: exit codes %v, %d environment images %v, want 1", codes, len(images), images)
	}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRunEnvListAndNothingToRun: [run] env written as docker users write
// it (a list of NAME=VALUE) reaches the container; with no command
// anywhere, mlenv says what to do instead of running the image's default
// with no input.
func TestRunEnvListAndNothingToRun(t *testing.T) {
	dir := pipProject(t, pythonRef(t), "[run]\ngpus = \"none\"\nenv = [\"WANDB_MODE=offline\", \"SEED=42\"]\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := mlenv(t, dir, "run", "--", "python3", "-c", "import os; print(os.environ['WANDB_MODE'], os.environ['SEED'])")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "offline 42" {
		t.Errorf("env as a list: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if r := mlenv(t, dir, "run"); r.code != 2 || !strings.Contains(r.stderr, "nothing to run") || !strings.Contains(r.stderr, "[run] command") {
		t.Errorf("no command: exit %d: %s", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "mlenv.toml"), readFile(t, filepath.Join(dir, "mlenv.toml"))+"ipc = \"host\"\n")
	bad := strings.Replace(readFile(t, filepath.Join(dir, "mlenv.toml")), `env = ["WANDB_MODE=offline", "SEED=42"]`, `env = { SEED = 42 }`, 1)
	writeFile(t, filepath.Join(dir, "mlenv.toml"), bad)
	if r := mlenv(t, dir, "lock"); r.code != 2 || !strings.Contains(r.stderr, `run.env: SEED: write the value as a string, e.g. SEED = "42"`) {
		t.Errorf("a number in env: exit %d: %s", r.code, r.stderr)
	}
}

// TestRunFollowsTheWorkingDirectory: from proj/src/sub, the command starts
// in workdir/src/sub, where the caller's relative paths resolve.
func TestRunFollowsTheWorkingDirectory(t *testing.T) {
	dir := pipProject(t, pythonRef(t), "[run]\ngpus = \"none\"\n")
	sub := filepath.Join(dir, "src", "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sub, "train.py"), "import os; print(os.getcwd())\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	cmd := exec.Command(mlenvBinary(t), "run", "--", "python3", "train.py")
	cmd.Dir = sub
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "/src/src/sub" {
		t.Errorf("run from src/sub: %v\n%s", err, out)
	}
	cmd = exec.Command(mlenvBinary(t), "run", "--print", "--", "python3", "train.py")
	cmd.Dir = sub
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "-w /src/src/sub ") {
		t.Errorf("--print from src/sub: %v\n%s", err, out)
	}
}

// TestCachePruneScope: cache ls says each environment's own and shared
// size and where it last ran; prune removes this project's superseded
// environments only (--current: its lock's too; --all: everything),
// --dry-run removes nothing, and an image a container uses is skipped
// while the rest goes.
func TestCachePruneScope(t *testing.T) {
	a := lockedRunProject(t, pypitest.New(t, testWheels...), "[run]\ngpus = \"none\"\n")
	b := lockedRunProject(t, pypitest.New(t, testWheels...), "[run]\ngpus = \"none\"\n")
	images := map[string]string{}
	runIn := func(dir string) string {
		r := mlenv(t, dir, "run", "--", "true")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		return strings.TrimSpace(strings.SplitN(strings.SplitN(r.stderr, " into ", 2)[1], "\n", 2)[0])
	}
	old := runIn(a)
	images[b] = runIn(b)
	toml := filepath.Join(a, "mlenv.toml")
	src, _ := os.ReadFile(toml)
	writeFile(t, toml, strings.Replace(string(src), `packages = ["beta"]`, `packages = ["beta", "gamma"]`, 1))
	if r := mlenv(t, a, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	images[a] = runIn(a)
	exists := func(image string) bool { return exec.Command("docker", "image", "inspect", image).Run() == nil }
	var ls struct {
		Environments []runner.CachedEnv `json:"environments"`
	}
	r := mlenv(t, a, "cache", "ls", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &ls); err != nil {
		t.Fatalf("cache ls --json: %v\n%s", err, r.stdout)
	}
	abs, _ := filepath.EvalSymlinks(a)
	for _, e := range ls.Environments {
		if e.Image == images[a] && (e.Project != abs && e.Project != a || e.LastRun.IsZero() || e.Own <= 0 || e.Shared <= 0 || e.Own+e.Shared != e.Size) {
			t.Errorf("cache ls of %s: project %q (want %s), last run %v, own %d + shared %d of %d", e.Image, e.Project, a, e.LastRun, e.Own, e.Shared, e.Size)
		}
	}
	if human := mlenv(t, a, "cache", "ls"); !strings.Contains(human.stdout, "OWN") || !strings.Contains(human.stdout, a) {
		t.Errorf("cache ls does not show sizes and the project:\n%s", human.stdout)
	}
	if r := mlenv(t, a, "cache", "prune", "--dry-run"); r.code != 0 || !strings.Contains(r.stderr, "would remove "+old) || !strings.Contains(r.stderr, "superseded") ||
		strings.Contains(r.stderr, images[a]) || strings.Contains(r.stderr, images[b]) || !exists(old) {
		t.Errorf("prune --dry-run: exit %d: %s", r.code, r.stderr)
	}
	user := enginetest.Docker(t, nil, "run", "-d", "--rm", images[b], "sleep", "60")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", strings.TrimSpace(user)).Run() })
	if r := mlenv(t, a, "cache", "prune"); r.code != 0 || exists(old) || !exists(images[a]) || !exists(images[b]) {
		t.Errorf("prune in project a: exit %d, its old image there %v, its current %v, b's %v: %s", r.code, exists(old), exists(images[a]), exists(images[b]), r.stderr)
	}
	if r := mlenv(t, a, "cache", "prune", "--current"); r.code != 0 || exists(images[a]) || !exists(images[b]) {
		t.Errorf("prune --current in project a: exit %d, a's image there %v, b's %v: %s", r.code, exists(images[a]), exists(images[b]), r.stderr)
	}
	if r := mlenv(t, a, "cache", "prune", "--all"); r.code != 0 || !regexp.MustCompile(regexp.QuoteMeta(images[b])+` \([^)]*\): in use by a container: skipped`).MatchString(r.stderr) || !exists(images[b]) {
		t.Errorf("prune --all with b's image in use: exit %d: %s", r.code, r.stderr)
	}
}

// TestPhasesOnATerminal: on a terminal a build shows each phase as one
// line redrawn in place, ending with what it did and how long it took.
func TestPhasesOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		enginetest.Missing(t, "tmux, for the TTY test")
	}
	dir := lockedRunProject(t, pypitest.New(t, testWheels...), "[run]\ngpus = \"none\"\n")
	session := fmt.Sprintf("mlenv-phases-%d", os.Getpid())
	line := fmt.Sprintf("sleep 1; %s --file %s run --rebuild -- true; echo mlenv-exited $?; sleep 30", mlenvBinary(t), filepath.Join(dir, "mlenv.toml"))
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "30", line).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	raw := filepath.Join(t.TempDir(), "raw")
	if out, err := exec.Command("tmux", "pipe-pane", "-t", session, "cat > "+shellWord(raw)).CombinedOutput(); err != nil {
		t.Fatalf("tmux pipe-pane: %v %s", err, out)
	}
	var screen string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		b, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		if screen = string(b); strings.Contains(screen, "mlenv-exited") {
			break
		}
	}
	for _, re := range []string{`(?m)^Loading mlenv-env:\S+ into the engine: \S+ in \S+s\s*$`, `mlenv-exited 0`} {
		if !regexp.MustCompile(re).MatchString(screen) {
			t.Errorf("the terminal does not show %s:\n%s", re, screen)
		}
	}
	// The phase was drawn over itself as it went, not printed line by line.
	if b, _ := os.ReadFile(raw); !bytes.Contains(b, []byte("\r\x1b[KLoading mlenv-env:")) {
		t.Errorf("the layer's phase was not redrawn in place:\n%q", b)
	}
}
