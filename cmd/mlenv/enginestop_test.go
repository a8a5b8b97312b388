package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/registrytest"
	"github.com/mlenv/mlenv/runner"
)

// startMlenv runs the mlenv binary against an engine in the background.
func startMlenv(t *testing.T, dockerHost, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+dockerHost)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &errb
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestEngineStopsDuringRun: the engine is stopped while the container
// runs; mlenv ends with a clear error, and once the engine is back no
// container of the run is left.
func TestEngineStopsDuringRun(t *testing.T) {
	engine := enginetest.NewPrivateEngine(t)
	ref := pythonRef(t)
	engine.Load(enginetest.PythonImage(t))
	dir := pipProject(t, ref, "[run]\nnetwork = \"none\"\ngpus = \"none\"\ncommand = [\"python3\", \"-c\", \"import time; print('up', flush=True); time.sleep(300)\"]\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	cmd, out := startMlenv(t, engine.Host, dir, "run")
	waitFor(t, "the container to start", func() bool { return strings.Contains(out.String(), "up") })
	engine.Stop()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(out.String(), "Docker engine stopped answering during the run") {
		t.Errorf("engine stopped mid-run: exit %d:\n%s", code, out.String())
	}
	engine.Start()
	if left := engine.Docker(nil, "ps", "-aq", "--filter", "label="+runner.LabelRun); left != "" {
		t.Errorf("containers left after the engine came back: %s", left)
	}
}

// TestEngineStopsDuringPull: the engine is stopped while it pulls the
// locked image (through a slow registry); mlenv ends with a clear error
// and no container.
func TestEngineStopsDuringPull(t *testing.T) {
	engine := enginetest.NewPrivateEngine(t)
	pythonRef(t)
	proxy := registrytest.NewFaultProxy(t, enginetest.Registry(t))
	dir := pipProject(t, proxy.Host+"/mlenv-test/python:bookworm", "[run]\nnetwork = \"none\"\ngpus = \"none\"\ncommand = [\"true\"]\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	proxy.Inject(func(w http.ResponseWriter, r *http.Request, up http.Handler) bool {
		if registrytest.Is(r, "blob") && r.Method == http.MethodGet {
			time.Sleep(2 * time.Second)
		}
		return false
	})
	cmd, out := startMlenv(t, engine.Host, dir, "run")
	waitFor(t, "the pull to start", func() bool { return proxy.Count("blob") > 0 })
	engine.Stop()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 125 || !strings.Contains(out.String(), "stopped answering during the pull") {
		t.Errorf("engine stopped mid-pull: exit %d:\n%s", code, out.String())
	}
	engine.Start()
	if left := engine.Docker(nil, "ps", "-aq"); left != "" {
		t.Errorf("containers left: %s", left)
	}
}
