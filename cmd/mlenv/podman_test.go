package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

// TestPodman: lock, run, verify --deep and vendor, and a run from the
// archive, through podman's docker-compatible socket (rootful).
func TestPodman(t *testing.T) {
	ref := pythonRef(t)
	t.Setenv("DOCKER_HOST", enginetest.Podman(t, enginetest.Registry(t)))
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\nenv = { GREETING = \"hi\" }\n", idx.URL))
	writeFile(t, filepath.Join(dir, "hello.txt"), "from the project")
	script := "import alpha, beta, os; print(beta.__version__, os.environ['GREETING'], open('hello.txt').read())"
	archive := filepath.Join(t.TempDir(), "archive")
	for _, args := range [][]string{{"lock"}, {"run", "--", "python3", "-c", script}, {"run", "--", "python3", "-c", script}, {"verify", "--deep"}, {"vendor", archive}, {"run", "--from", archive, "--rebuild", "--", "python3", "-c", script}} {
		r := mlenv(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("mlenv %v through podman: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
		if args[0] == "run" && strings.TrimSpace(r.stdout) != "1.0 hi from the project" {
			t.Errorf("mlenv %v through podman printed %q", args, r.stdout)
		}
	}
	// podman's commit takes the environment's config (as Dockerfile
	// changes): its labels make `cache ls` find it.
	if r := mlenv(t, dir, "cache", "ls", "--json"); r.code != 0 || !strings.Contains(r.stdout, "mlenv-env:") {
		t.Errorf("cache ls through podman: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestPodmanSaysWhyTheContainerDidNotStart: a podman whose default
// network cannot be set up (a file its network plugin needs is missing:
// "no such file or directory", as from a missing netavark) fails the container's start and answers the
// attach with a bare 409: mlenv shows the engine's own words and exits
// 125, not 127 (the command is there; the network is not).
func TestPodmanSaysWhyTheContainerDidNotStart(t *testing.T) {
	ref := pythonRef(t)
	networks := t.TempDir()
	writeFile(t, filepath.Join(networks, "podman.conflist"), `{"cniVersion": "0.4.0", "name": "podman", "plugins": [{"type": "bridge", "bridge": "mlenvbroken0", "ipam": {"type": "host-local", "subnet": "10.99.0.0/24", "resolvConf": "/mlenv-no-such-resolv.conf"}}]}`)
	conf := fmt.Sprintf("[network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = %q\n", networks)
	t.Setenv("DOCKER_HOST", enginetest.PodmanWithConf(t, enginetest.Registry(t), conf))
	dir := pipProject(t, ref, "[run]\ngpus = \"none\"\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	r := mlenv(t, dir, "run", "--", "python3", "-c", "print('ran')")
	if r.code != 125 || !strings.Contains(r.stderr, "/mlenv-no-such-resolv.conf") || strings.Contains(r.stdout, "ran") {
		t.Errorf("run through a podman without its network backend: exit %d, want 125 and podman's reason\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--network", "host", "--", "python3", "-c", "print('ran')"); r.code != 0 || strings.TrimSpace(r.stdout) != "ran" {
		t.Errorf("run with --network host (no backend needed): exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestRootlessPodman: an unprivileged user runs mlenv against their own
// rootless podman (host networking): lock, run, verify --deep, vendor and
// a run from the archive; the files the run writes are the user's.
func TestRootlessPodman(t *testing.T) {
	ref := pythonRef(t)
	rl := enginetest.RootlessPodman(t, enginetest.Registry(t))
	idx := pypitest.New(t, testWheels...)
	dir, err := os.MkdirTemp("", "mlenv-rootless-project-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	writeFile(t, filepath.Join(dir, "mlenv.toml"), fmt.Sprintf("[image]\nref = %q\n[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\nnetwork = \"host\"\n", ref, idx.URL))
	writeFile(t, filepath.Join(dir, "hello.txt"), "from the project")
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, rl.Uid, rl.Gid) })
	script := "import alpha, beta; print(beta.__version__, open('hello.txt').read()); open('out.txt', 'w').write('x')"
	archive := filepath.Join(dir, "archive")
	for _, args := range [][]string{{"lock"}, {"run", "--", "python3", "-c", script}, {"verify", "--deep"}, {"vendor", archive}, {"run", "--from", archive, "--rebuild", "--", "python3", "-c", script}} {
		cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
		cmd.Env, cmd.SysProcAttr, cmd.Dir = rl.Env, rl.Credential(), dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mlenv %v as %s through rootless podman: %v\n%s", args, enginetest.RootlessUser, err, out)
		}
		if args[0] == "run" && !strings.Contains(string(out), "1.0 from the project") {
			t.Errorf("mlenv %v printed %s", args, out)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != rl.Uid {
		t.Errorf("out.txt is owned by uid %d, want the user's %d", st.Uid, rl.Uid)
	}
}
