package main

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/registrytest"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/runner/docker"
)

// hang makes reg accept every request and never answer, until the
// returned func is called.
func hang(reg *registrytest.Registry) (release func()) {
	done := make(chan struct{})
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}
	return func() { close(done); reg.Wrap = nil }
}

// TestEnginePullThatNeverAnswersEnds: a pull through the real engine from
// a registry that accepts and never answers ends after the stall limit
// (--registry-timeout) with an error naming the registry, instead of
// hanging until killed.
func TestEnginePullThatNeverAnswersEnds(t *testing.T) {
	reg := families(t)
	defer hang(reg)()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // the hang, failing
	defer cancel()
	c, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := runner.New(c)
	e.Stall = 2 * time.Second
	start := time.Now()
	_, err = e.EnsureImage(ctx, runner.ImageRef{Repository: reg.Host + "/stall/never", Digest: "sha256:" + strings.Repeat("5", 64), Platform: "linux/amd64"}, nil)
	took := time.Since(start)
	var se *runner.StalledError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), reg.Host) || took > 30*time.Second {
		t.Fatalf("after %v: err = %v, want a StalledError naming %s", took, err, reg.Host)
	}
}

// TestSignalStopsWithinASecond: SIGTERM or Ctrl-C to an mlenv waiting on
// a registry that never answers ends it within about a second, exit 130.
func TestSignalStopsWithinASecond(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	defer hang(reg)()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(mlenvBinary(t), "--file", filepath.Join(dir, "mlenv.toml"), "lock")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // parsed, asking the registry
		sent := time.Now()
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 || time.Since(sent) > 1500*time.Millisecond {
			t.Errorf("%v: %v after %v, want exit 130 within a second", sig, err, time.Since(sent))
		}
	}
}
