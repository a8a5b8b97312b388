package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/runner"
)

// engineUnderTest is one engine the conformance table runs against, and
// how mlenv reaches it there.
type engineUnderTest struct {
	name     string
	env      []string             // the mlenv process's environment (DOCKER_HOST)
	cred     *syscall.SysProcAttr // nil: as this test's user
	uid, gid int
	dir      string   // the project, owned by the user mlenv runs as
	docker   []string // the CLI that lists the engine's containers
	rootless bool
}

// TestConformance runs one table of `docker run --rm` promises through
// mlenv on every engine it supports: Docker, a second dockerd (vfs, its
// own bridge), rootful podman and rootless podman.
func TestConformance(t *testing.T) {
	ref := pythonRef(t)
	registry := enginetest.Registry(t)
	engines := []func(t *testing.T) engineUnderTest{
		func(t *testing.T) engineUnderTest {
			return conformanceEngine(t, "docker", os.Getenv("DOCKER_HOST"), nil)
		},
		func(t *testing.T) engineUnderTest {
			other := enginetest.NewOtherMachine(t)
			return conformanceEngine(t, "second dockerd (vfs)", other.Host, nil)
		},
		func(t *testing.T) engineUnderTest {
			return conformanceEngine(t, "podman", enginetest.Podman(t, registry), nil)
		},
		func(t *testing.T) engineUnderTest {
			rl := enginetest.RootlessPodman(t, registry)
			e := conformanceEngine(t, "rootless podman", rl.Host, &rl)
			return e
		},
	}
	for _, start := range engines {
		e := start(t)
		t.Run(e.name, func(t *testing.T) {
			writeFile(t, filepath.Join(e.dir, "mlenv.toml"), fmt.Sprintf("[image]\nref = %q\n[run]\ngpus = \"none\"\nnetwork = \"host\"\nshm-size = \"256m\"\nmounts = [\"./data:/data:ro\"]\nenv = { GREETING = \"hi there\" }\n", ref))
			os.MkdirAll(filepath.Join(e.dir, "data"), 0o755)
			writeFile(t, filepath.Join(e.dir, "data", "x"), "from data")
			e.chown(t)
			if r := e.mlenv(t, nil, "lock"); r.code != 0 {
				t.Fatalf("lock: exit %d\n%s", r.code, r.stderr)
			}
			conformExitCodes(t, e)
			conformSignals(t, e)
			conformStreams(t, e)
			conformSettings(t, e)
			conformGPUs(t, e)
			if left := e.containers(t); left != "" {
				t.Errorf("run containers left on %s: %s", e.name, left)
			}
		})
	}
}

func conformanceEngine(t *testing.T, name, host string, rl *enginetest.Rootless) engineUnderTest {
	t.Helper()
	dir, err := os.MkdirTemp("", "mlenv-conformance-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := engineUnderTest{name: name, dir: dir, uid: os.Getuid(), gid: os.Getgid(), env: os.Environ()}
	if host != "" {
		e.env = append(e.env, "DOCKER_HOST="+host)
		e.docker = []string{"-H", host}
	}
	if rl != nil {
		e.env, e.cred, e.uid, e.gid, e.rootless = rl.Env, rl.Credential(), rl.Uid, rl.Gid, true
	}
	return e
}

func (e engineUnderTest) chown(t *testing.T) {
	if e.cred == nil {
		return
	}
	filepath.Walk(e.dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, e.uid, e.gid) })
}

// command is mlenv as the engine's user, in the project.
func (e engineUnderTest) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(e.dir, "mlenv.toml")}, args...)...)
	cmd.Env, cmd.SysProcAttr, cmd.Dir = e.env, e.cred, e.dir
	return cmd
}

func (e engineUnderTest) mlenv(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := e.command(t, args...)
	cmd.Stdin = stdin
	return runBinary(t, cmd)
}

// runBinary runs the mlenv binary's command to its end.
func runBinary(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// containers are the engine's mlenv run containers, stopped ones too.
func (e engineUnderTest) containers(t *testing.T) string {
	t.Helper()
	args := append(append([]string{}, e.docker...), "ps", "-aq", "--filter", "label="+runner.LabelRun)
	cmd := exec.Command("docker", args...)
	cmd.Env, cmd.SysProcAttr = e.env, e.cred
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker ps on %s: %v", e.name, err)
	}
	return strings.TrimSpace(string(out))
}

// conformExitCodes: the command's code is mlenv's, docker's 126 and 127
// for one that cannot run, 125 for an engine error before the start, and
// 137 for a container killed from outside.
func conformExitCodes(t *testing.T, e engineUnderTest) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--", "python3", "-c", "pass"}, 0, ""},
		{[]string{"--", "python3", "-c", "import sys; sys.exit(1)"}, 1, ""},
		{[]string{"--", "python3", "-c", "import sys; sys.exit(3)"}, 3, ""},
		{[]string{"--", "python3", "-c", "import sys; sys.exit(4)"}, 4, ""},
		{[]string{"--", "python3", "-c", "raise SystemExit('boom')"}, 1, "boom"},
		{[]string{"--", "sh", "-c", "exit 5"}, 5, ""},
		{[]string{"--", "no-such-command"}, 127, "no-such-command"},
		{[]string{"--", "/etc/hostname"}, 126, "/etc/hostname"},
		{[]string{"--network", "no-such-network", "--", "true"}, 125, "no-such-network"},
	} {
		r := e.mlenv(t, nil, append([]string{"run"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.says) {
			t.Errorf("%s: run %q: exit %d, want %d (saying %q)\n%s", e.name, tc.args, r.code, tc.code, tc.says, r.stderr)
		}
	}
	// killed from outside: 137
	run := startConform(t, e, "import time; print('ready', flush=True); time.sleep(120)")
	id := e.containers(t)
	killArgs := append(append([]string{}, e.docker...), "kill", id)
	kill := exec.Command("docker", killArgs...)
	kill.Env, kill.SysProcAttr = e.env, e.cred
	if b, err := kill.CombinedOutput(); err != nil || id == "" {
		t.Fatalf("%s: docker kill %q: %v %s", e.name, id, err, b)
	}
	if code := run.wait(); code != 137 {
		t.Errorf("%s: a container killed from outside: mlenv exit %d, want 137\n%s", e.name, code, run.out.String())
	}
}

// running is an `mlenv run` in progress: wait returns its exit code once
// its output is read to the end (os/exec closes the pipe at Wait).
type running struct {
	cmd     *exec.Cmd
	out     *syncBuffer // stdout after the first line, and stderr
	drained chan struct{}
}

// syncBuffer is a buffer two goroutines write to (stdout's reader and
// os/exec's copy of stderr).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (r running) wait() int {
	<-r.drained
	r.cmd.Wait()
	return r.cmd.ProcessState.ExitCode()
}

// startConform starts `mlenv run` of a python script and returns once it
// printed its first line.
func startConform(t *testing.T, e engineUnderTest, script string) running {
	t.Helper()
	cmd := e.command(t, "run", "--", "python3", "-u", "-c", script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &syncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	first := make(chan bool, 1)
	go func() { first <- lines.Scan() }()
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s: the run did not start: %s", e.name, errb.String())
	}
	drained := make(chan struct{})
	go func() {
		for lines.Scan() {
			io.WriteString(errb, lines.Text()+"\n")
		}
		close(drained)
	}()
	return running{cmd, errb, drained}
}

// conformSignals: SIGINT and SIGTERM reach the command as themselves, and
// mlenv returns 130.
func conformSignals(t *testing.T, e engineUnderTest) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		script := fmt.Sprintf("import signal, sys, time\nsignal.signal(%d, lambda *a: (print('got', signal.Signals(a[0]).name, flush=True), sys.exit(0)))\nprint('ready', flush=True)\ntime.sleep(120)", int(sig))
		run := startConform(t, e, script)
		run.cmd.Process.Signal(sig)
		code := make(chan int, 1)
		go func() { code <- run.wait() }()
		select {
		case c := <-code:
			if c != 130 || !strings.Contains(run.out.String(), "got "+unix(sig)) {
				t.Errorf("%s: after %v: exit %d, want 130 with the command told (%q)", e.name, sig, c, run.out.String())
			}
		case <-time.After(30 * time.Second):
			run.cmd.Process.Kill()
			t.Fatalf("%s: mlenv did not return after %v", e.name, sig)
		}
	}
}

func unix(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
}

// conformStreams: stdin from a pipe with -i; a TTY when mlenv runs in one
// (tmux).
func conformStreams(t *testing.T, e engineUnderTest) {
	r := e.mlenv(t, strings.NewReader("piped in"), "run", "-i", "--", "python3", "-c", "import sys; print(sys.stdin.read().upper())")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "PIPED IN" {
		t.Errorf("%s: stdin with -i: exit %d %q\n%s", e.name, r.code, r.stdout, r.stderr)
	}
	if e.cred != nil {
		return // tmux as another user needs its own server; the TTY path is the same code
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		enginetest.Missing(t, "tmux, for the TTY test")
	}
	session := fmt.Sprintf("mlenv-tty-%d", os.Getpid())
	line := fmt.Sprintf("DOCKER_HOST=%s %s --file %s run --gpus auto -- python3 -c 'import sys; print(\"tty\", sys.stdin.isatty(), sys.stdout.isatty())'; sleep 30",
		shellWord(hostOf(e.env)), mlenvBinary(t), filepath.Join(e.dir, "mlenv.toml"))
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "20", line).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	var screen string
	for i := 0; i < 100; i++ {
		b, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		if screen = string(b); strings.Contains(screen, "tty True True") {
			// gpus = auto is never silent on a terminal
			if !strings.Contains(screen, "Running without GPUs") {
				t.Errorf("%s: auto said nothing of its GPUs on a terminal:\n%s", e.name, screen)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("%s: in a terminal the container has no TTY:\n%s", e.name, screen)
}

func hostOf(env []string) string {
	host := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok {
			host = v
		}
	}
	return host
}

func shellWord(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// conformSettings: user = "host" writes files as the caller; env, mounts,
// workdir, ipc and shm-size.
func conformSettings(t *testing.T, e engineUnderTest) {
	script := `import os
s = os.statvfs("/dev/shm")
print(os.environ["GREETING"], "|", os.getcwd(), "|", open("/data/x").read(), "|", s.f_blocks * s.f_frsize)
open("written.txt", "w").write("x")`
	r := e.mlenv(t, nil, "run", "--user", "host", "--workdir", "/work", "--", "python3", "-c", script)
	want := "hi there | /work | from data | 268435456"
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("%s: settings: exit %d: %q, want %q\n%s", e.name, r.code, r.stdout, want, r.stderr)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "written.txt"))
	if err != nil {
		t.Fatalf("%s: the file the run wrote: %v", e.name, err)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != e.uid {
		t.Errorf("%s: user = host wrote a file owned by uid %d, want the caller's %d", e.name, uid, e.uid)
	}
	if e.rootless {
		return // rootless podman cannot join the host's IPC namespace
	}
	hostIPC, _ := os.Readlink("/proc/self/ns/ipc")
	r = e.mlenv(t, nil, "run", "--ipc", "host", "--", "python3", "-c", "import os; print(os.readlink('/proc/self/ns/ipc'))")
	if r.code != 0 || strings.TrimSpace(r.stdout) != hostIPC {
		t.Errorf("%s: ipc host: exit %d: %q, want %q\n%s", e.name, r.code, r.stdout, hostIPC, r.stderr)
	}
}

// conformGPUs: on an engine that serves no GPUs, auto runs without them
// (saying why on a terminal: conformStreams); all is refused before the
// start, naming the fix.
func conformGPUs(t *testing.T, e engineUnderTest) {
	r := e.mlenv(t, nil, "run", "--gpus", "auto", "--", "python3", "-c", "import os; print(os.environ.get('NVIDIA_VISIBLE_DEVICES', 'no GPUs'))")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "no GPUs" {
		t.Errorf("%s: gpus auto: exit %d %q\n%s", e.name, r.code, r.stdout, r.stderr)
	}
	r = e.mlenv(t, nil, "run", "--gpus", "all", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "serves no NVIDIA GPUs") || !strings.Contains(r.stderr, "nvidia-ctk") {
		t.Errorf("%s: gpus all: exit %d\n%s", e.name, r.code, r.stderr)
	}
}
