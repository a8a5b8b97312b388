//go:build linux

package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/runner/docker"
)

// Missing skips the test, or fails it under CI=true, because a real part
// it needs is not on this machine.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (CI=true): .ci/run installs and starts it", what)
	}
	t.Skipf("skipping: %s is not available here (install it, or run `bash .ci/run`)", what)
}

// Engine connects to the Docker engine or skips (fails in CI).
func Engine(t testing.TB) *runner.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: needs the Docker engine (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := docker.Connect(ctx)
	if err != nil {
		Missing(t, "a Docker engine ("+err.Error()+")")
	}
	e := runner.New(c)
	t.Cleanup(func() { e.Close() })
	return e
}

// Docker runs the docker CLI for test setup and returns its stdout.
func Docker(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

var (
	registryOnce sync.Once
	registryHost string
	registryErr  error
)

// Registry starts Debian's docker-registry on a free loopback port (once
// per test binary; it stops when the binary exits) and returns host:port.
// The engine treats 127.0.0.0/8 registries as insecure, so it pushes over
// plain HTTP.
func Registry(t testing.TB) string {
	t.Helper()
	registryOnce.Do(func() { registryHost, _, registryErr = startRegistry() })
	if registryErr != nil {
		Missing(t, "Debian's docker-registry ("+registryErr.Error()+")")
	}
	return registryHost
}

// PrivateRegistry starts a docker-registry for one test, which may stop
// it (stop is also called when the test ends).
func PrivateRegistry(t testing.TB) (host string, stop func()) {
	t.Helper()
	host, cmd, err := startRegistry()
	if err != nil {
		Missing(t, "Debian's docker-registry ("+err.Error()+")")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	t.Cleanup(stop)
	return host, stop
}

func startRegistry() (string, *exec.Cmd, error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	host := l.Addr().String()
	l.Close()
	dir, err := os.MkdirTemp("", "mlenv-registry-")
	if err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), host)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test binary
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			return host, cmd, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	return "", nil, fmt.Errorf("docker-registry did not answer on %s", host)
}

// Derive runs argv in a container of base (host network) and commits the
// result as tag, with Dockerfile-style changes ("ENV PATH=..."): a test
// image made from another by one command.
func Derive(t testing.TB, base, tag string, changes []string, argv ...string) string {
	t.Helper()
	name := fmt.Sprintf("mlenv-derive-%d", time.Now().UnixNano())
	Docker(t, nil, append([]string{"run", "--name", name, "--network", "host", base}, argv...)...)
	defer Docker(t, nil, "rm", "-f", name)
	commit := []string{"commit"}
	for _, c := range changes {
		commit = append(commit, "--change", c)
	}
	Docker(t, nil, append(commit, name, tag)...)
	return tag
}

// Push tags a local image as host/repo:tag and pushes it.
func Push(t testing.TB, local, ref string) string {
	t.Helper()
	Docker(t, nil, "tag", local, ref)
	Docker(t, nil, "push", "--quiet", ref)
	return ref
}
