package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

// TestVendorRunsOffline: vendor the environment, then remove the image
// from the engine, stop the registry and the index, and run from the
// archive alone.
func TestVendorRunsOffline(t *testing.T) {
	host, ref, stopRegistry := ownImage(t, "mlenv-test/vendored")
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, ref, "[pip]\nrequirements = \"env/requirements.txt\"\nindex-url = \""+idx.URL+"\"\n[run]\ncommand = [\"python3\", \"-c\", \"import alpha, beta; print('offline', alpha.__version__)\"]\n")
	os.MkdirAll(filepath.Join(dir, "env"), 0o755)
	writeFile(t, filepath.Join(dir, "env", "requirements.txt"), "beta\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	archive := filepath.Join(t.TempDir(), "archive")
	if r := mlenv(t, dir, "vendor", archive); r.code != 0 {
		t.Fatalf("vendor: exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"image/index.json", "image/oci-layout", "wheels/alpha-1.0-py3-none-any.whl", "wheels/beta-1.0-py3-none-any.whl", "mlenv.lock", "mlenv.toml", "env/requirements.txt"} {
		if _, err := os.Stat(filepath.Join(archive, f)); err != nil {
			t.Errorf("archive lacks %s", f)
		}
	}
	lockBefore := readFile(t, filepath.Join(dir, "mlenv.lock"))
	if strings.Contains(readFile(t, filepath.Join(archive, "mlenv.lock")), archive) || lockBefore != readFile(t, filepath.Join(archive, "mlenv.lock")) {
		t.Error("the archived lock differs from the project's or names the archive")
	}

	other := pipProject(t, ref, "[run]\ncommand = [\"true\"]\n")
	if r := mlenv(t, other, "lock"); r.code != 0 {
		t.Fatalf("lock another project: %s", r.stderr)
	}
	l := readLock(t, dir)
	stopRegistry()
	idx.Close()
	enginetest.Docker(t, nil, "rmi", "-f", l.Image.Platforms[0].Config)
	if r := mlenv(t, dir, "run"); r.code != 125 || !strings.Contains(r.stderr, "the engine cannot reach the registry") || strings.Contains(r.stderr, "stopped answering") {
		t.Fatalf("without the archive, the registry down: exit %d: %s", r.code, r.stderr)
	}
	// verify names the registry as the part that failed, each reference once
	r := mlenv(t, dir, "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach registry") || strings.Contains(r.stderr, "no longer") {
		t.Errorf("verify, the registry down: exit %d: %s", r.code, r.stderr)
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if ref := host + "/mlenv-test/vendored@"; strings.Count(line, ref) > 1 {
			t.Errorf("verify prints the reference twice: %s", line)
		}
	}
	exec.Command("docker", "rmi", "-f", l.Image.Platforms[0].EnvConfig).Run()
	r = mlenv(t, dir, "run", "--from", archive)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "offline 1.0" {
		t.Errorf("run --from: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "Installing") {
		t.Errorf("run --from installed instead of loading the archived environment: %s", r.stderr)
	}
	if id := enginetest.Docker(t, nil, "image", "inspect", "-f", "{{.Id}}", l.Image.Platforms[0].EnvConfig); id != l.Image.Platforms[0].EnvConfig {
		t.Errorf("the archived environment is not in the engine: %s", id)
	}
	// The archive alone: from a directory without mlenv.toml, that
	// directory is the project (its files, what the command writes), and
	// the archive is not touched.
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "train.py"), "import alpha, os; open('out.txt', 'w').write('x'); print('trained in', os.getcwd(), 'with alpha', alpha.__version__)\n")
	before := listTree(t, archive)
	cmd := exec.Command(mlenvBinary(t), "run", "--from", archive, "--rebuild", "--", "python3", "train.py")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "trained in /src with alpha 1.0") {
		t.Errorf("run --from in a directory without mlenv.toml: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(work, "out.txt")); err != nil {
		t.Errorf("what the command wrote is not in the current directory: %v", err)
	}
	if after := listTree(t, archive); after != before {
		t.Errorf("the run changed the archive:\n%s\nwas\n%s", after, before)
	}
	// An archive of another lock is refused, naming both.
	r = mlenv(t, other, "run", "--from", archive)
	if r.code != 2 || !strings.Contains(r.stderr, "is the archive of another lock") || strings.Count(r.stderr, "inputs: image") != 2 {
		t.Errorf("run --from another lock's archive: exit %d\n%s", r.code, r.stderr)
	}
}

// listTree lists a directory's files and sizes, to see it unchanged.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %d %v\n", strings.TrimPrefix(p, dir), fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

func TestVerifyDeep(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "")
	r := mlenv(t, dir, "verify", "--deep", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "environment matches the lock"`) || !strings.Contains(r.stdout, `"ok": true`) {
		t.Errorf("verify --deep: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestVendorFromTheEngine: after upstream deleted the locked manifest,
// verify says digest-gone and vendor saves the engine's copy (its config
// checked, and says so); the archive then runs with the registry, the
// index and the engine's copies gone.
func TestVendorFromTheEngine(t *testing.T) {
	host, ref, stopRegistry := ownImage(t, "mlenv-test/gone")
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, ref, "[pip]\npackages = [\"beta\"]\nindex-url = \""+idx.URL+"\"\n[run]\ngpus = \"none\"\ncommand = [\"python3\", \"-c\", \"import beta; print('restored', beta.__version__)\"]\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := mlenv(t, dir, "run"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	l := readLock(t, dir)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/mlenv-test/gone/manifests/"+l.Image.Platforms[0].Digest, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete the manifest upstream: %v %v", err, resp)
	}
	if r := mlenv(t, dir, "verify"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "[digest-gone]") {
		t.Fatalf("verify after the manifest was deleted: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	archive := filepath.Join(t.TempDir(), "archive")
	r := mlenv(t, dir, "vendor", archive)
	if r.code != 0 || !strings.Contains(r.stderr, "the registry no longer has "+host+"/mlenv-test/gone@"+l.Image.Platforms[0].Digest+"; saved the engine's copy (config "+l.Image.Platforms[0].Config+", checked)") {
		t.Fatalf("vendor with the manifest gone upstream: exit %d\n%s", r.code, r.stderr)
	}
	stopRegistry()
	idx.Close()
	for _, id := range []string{l.Image.Platforms[0].EnvConfig, l.Image.Platforms[0].Config} {
		exec.Command("docker", "rmi", "-f", id).Run()
	}
	if r := mlenv(t, dir, "run", "--from", archive); r.code != 0 || strings.TrimSpace(r.stdout) != "restored 1.0" {
		t.Errorf("run --from the archive: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// ownImage pushes an image of the test's own (its config differs by a
// label, so removing it from the engine leaves the shared test images
// alone) to a registry of its own: its host, the image's reference, and
// how to stop the registry.
func ownImage(t *testing.T, repo string) (host, ref string, stop func()) {
	t.Helper()
	enginetest.Engine(t)
	host, stop = enginetest.PrivateRegistry(t)
	local := enginetest.Derive(t, enginetest.PythonImage(t), repo+":1", []string{fmt.Sprintf("LABEL dev.mlenv.test=%d", time.Now().UnixNano())}, "true")
	return host, enginetest.Push(t, local, host+"/"+repo+":1"), stop
}
