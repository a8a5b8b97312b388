//go:build linux

package enginetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PrivateEngine is a second Docker engine of the test's own (its own data
// root, socket and containerd), which the test may stop and start again
// without disturbing the shared engine. It leaves the host's iptables to
// the shared engine and must not disable the bridge (dockerd
// --bridge=none deletes the host's docker0): its containers use network
// "none" or "host".
type PrivateEngine struct {
	Host string // DOCKER_HOST value: unix:///…/docker.sock
	dir  string
	args []string
	env  []string // more environment for dockerd
	t    testing.TB
}

// NewOtherMachine is a private engine standing for another machine: its
// own data root with the vfs storage driver (no layer shared with the
// shared engine's overlay2), its own socket, and its own bridge, made with
// ip link and removed after.
func NewOtherMachine(t testing.TB) *PrivateEngine {
	t.Helper()
	Engine(t)
	if os.Geteuid() != 0 {
		Missing(t, "root, to start a second dockerd")
	}
	bridge := fmt.Sprintf("mlenvbr%d", os.Getpid()%1000)
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("10.231.%d.1/24", os.Getpid()%250), "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			Missing(t, fmt.Sprintf("ip %s (%v: %s)", strings.Join(args, " "), err, out))
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "delete", bridge).Run() })
	return newPrivateEngine(t, "--storage-driver", "vfs", "--bridge", bridge)
}

// NewGPUEngine is a private engine that serves --gpus as a GPU host's
// does: a stand-in nvidia-container-runtime-hook (which records the
// NVIDIA_VISIBLE_DEVICES it is run for in HookLog and exits 0) is on its
// PATH, which makes dockerd register the nvidia device driver. It is on
// no other process's PATH.
func NewGPUEngine(t testing.TB) (e *PrivateEngine, hookLog string) {
	t.Helper()
	bin := t.TempDir()
	hookLog = filepath.Join(bin, "hook.log")
	hook := "#!/bin/sh\n# a stand-in for the NVIDIA Container Toolkit's hook\ncat >/dev/null\necho \"$@\" >> " + hookLog + "\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-container-runtime-hook"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	e = newPrivateEngineEnv(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH")})
	return e, hookLog
}

// NewPrivateEngine starts one; it is stopped and removed when the test
// ends. Needs root.
func NewPrivateEngine(t testing.TB) *PrivateEngine {
	t.Helper()
	return newPrivateEngine(t)
}

func newPrivateEngine(t testing.TB, args ...string) *PrivateEngine {
	t.Helper()
	return newPrivateEngineEnv(t, nil, args...)
}

func newPrivateEngineEnv(t testing.TB, env []string, args ...string) *PrivateEngine {
	t.Helper()
	Engine(t)
	if os.Geteuid() != 0 {
		Missing(t, "root, to start a private dockerd")
	}
	dir, err := os.MkdirTemp("", "mlenv-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	e := &PrivateEngine{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir, args: args, env: env, t: t}
	e.Start()
	t.Cleanup(func() {
		e.Stop()
		exec.Command("umount", "-R", filepath.Join(dir, "root")).Run()
		os.RemoveAll(dir)
	})
	return e
}

// Start starts the engine (again) and waits until it answers.
func (e *PrivateEngine) Start() {
	e.t.Helper()
	log, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command("dockerd", "--data-root", filepath.Join(e.dir, "root"), "--exec-root", filepath.Join(e.dir, "exec"),
		"-H", e.Host, "--pidfile", filepath.Join(e.dir, "docker.pid"), "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	cmd.Args = append(cmd.Args, e.args...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start dockerd: %v", err)
	}
	go cmd.Wait()
	for i := 0; i < 60; i++ {
		if exec.Command("docker", "-H", e.Host, "info").Run() == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.t.Fatalf("private dockerd did not start; see %s", filepath.Join(e.dir, "dockerd.log"))
}

// Stop stops the engine as an administrator would (SIGTERM: it stops its
// containers and exits) and waits until it is gone.
func (e *PrivateEngine) Stop() {
	b, err := os.ReadFile(filepath.Join(e.dir, "docker.pid"))
	if err != nil {
		return
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	for i := 0; i < 120 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(250 * time.Millisecond)
	}
}

// Docker runs the docker CLI against this engine.
func (e *PrivateEngine) Docker(stdin []byte, args ...string) string {
	e.t.Helper()
	return Docker(e.t, stdin, append([]string{"-H", e.Host}, args...)...)
}

// Load copies an image from the shared engine into this one.
func (e *PrivateEngine) Load(image string) {
	e.t.Helper()
	save := exec.Command("docker", "save", image)
	load := exec.Command("docker", "-H", e.Host, "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		e.t.Fatal(err)
	}
	if out, err := load.CombinedOutput(); err != nil {
		e.t.Fatalf("docker load: %v: %s", err, out)
	}
	if err := save.Wait(); err != nil {
		e.t.Fatal(fmt.Errorf("docker save: %w", err))
	}
}
