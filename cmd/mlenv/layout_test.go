package main

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
)

// releaseCommit is the last mlenv that made every environment one layer,
// before env-layout existed.
const releaseCommit = "90aa84e"

// releaseBinary builds mlenv as of releaseCommit from this clone's
// history (git archive), as a user of that release has it.
func releaseBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		enginetest.Missing(t, "git, for the release mlenv")
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C ../.. archive "$1" | tar -x -C "$2"`, "sh", releaseCommit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		enginetest.Missing(t, "the history of "+releaseCommit+" in this clone ("+strings.TrimSpace(string(out))+")")
	}
	bin := filepath.Join(t.TempDir(), "mlenv-release")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mlenv")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build mlenv %s: %v\n%s", releaseCommit, err, out)
	}
	return bin
}

// envKey is the name key of dir's locked environment on this platform.
func envKey(t *testing.T, dir string) string {
	t.Helper()
	l := readLock(t, dir)
	env, err := runner.EnvFor(l, l.Image.Platforms[0].Platform, l.Run.PipCache)
	if err != nil {
		t.Fatal(err)
	}
	return env.Key()
}

// layerCount is how many layers the engine says image has; docker runs
// the engine's CLI (enginetest.Docker's, or another machine's).
func layerCount(docker func(stdin []byte, args ...string) string, image string) int {
	return strings.Count(docker(nil, "image", "inspect", "-f", "{{range .RootFS.Layers}}x{{end}}", image), "x")
}

// TestReleaseLockKeepsItsDigests: a lock written by the release before
// layouts keeps building, running and verifying to exactly its recorded
// digests (on a machine that never computed them too); `lock --upgrade`
// moves it to a layer per package.
func TestReleaseLockKeepsItsDigests(t *testing.T) {
	release := releaseBinary(t)
	docker := func(stdin []byte, args ...string) string { return enginetest.Docker(t, stdin, args...) }
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, pythonRef(t), "[pip]\npackages = [\"beta\"]\nindex-url = \""+idx.URL+"\"\n[run]\ngpus = \"none\"\n")
	cmd := exec.Command(release, "--file", filepath.Join(dir, "mlenv.toml"), "lock")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the release's lock: %v\n%s", err, out)
	}
	written := readFile(t, filepath.Join(dir, "mlenv.lock"))
	l := readLock(t, dir)
	pl := l.Image.Platforms[0]
	if l.Image.EnvLayout != lock.LayoutOneLayer || strings.Contains(written, "env-layout") || pl.EnvConfig == "" {
		t.Fatalf("the release's lock has a layout or no env digests:\n%s", written)
	}
	if r := mlenv(t, dir, "lock"); r.code != 0 || readFile(t, filepath.Join(dir, "mlenv.lock")) != written {
		t.Fatalf("lock of a release lock: exit %d, the lock changed\n%s", r.code, r.stderr)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // a machine that never computed it
	if r := mlenv(t, dir, "run", "--rebuild", "--", "python3", "-c", "import beta; print(beta.__version__)"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.0" {
		t.Fatalf("run of the release lock: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	env := "mlenv-env:" + envKey(t, dir)
	base := l.Image.Repository + "@" + l.Image.Digest
	if id := enginetest.Docker(t, nil, "image", "inspect", "-f", "{{.Id}}", env); id != pl.EnvConfig || layerCount(docker, env) != layerCount(docker, base)+1 {
		t.Fatalf("the release lock's environment is %s with %d layers, want %s with one on the base's %d", id, layerCount(docker, env), pl.EnvConfig, layerCount(docker, base))
	}
	if r := mlenv(t, dir, "verify"); r.code != 0 {
		t.Fatalf("verify of the release lock: exit %d\n%s", r.code, r.stderr)
	}
	r := mlenv(t, dir, "lock", "--upgrade")
	up := readLock(t, dir)
	if r.code != 0 || up.Image.EnvLayout != lock.LayoutLayers || up.Image.Platforms[0].EnvDigest == pl.EnvDigest {
		t.Fatalf("lock --upgrade: exit %d, layout %q, env %s (was %s)\n%s", r.code, up.Image.EnvLayout, up.Image.Platforms[0].EnvDigest, pl.EnvDigest, r.stderr)
	}
	if r := mlenv(t, dir, "run", "--", "python3", "-c", "import beta"); r.code != 0 {
		t.Fatalf("run after --upgrade: exit %d\n%s", r.code, r.stderr)
	}
	upEnv := "mlenv-env:" + envKey(t, dir)
	if n := layerCount(docker, upEnv); n != layerCount(docker, base)+3 {
		t.Errorf("the upgraded environment has %d layers, want the base's %d, the venv's and one each for alpha and beta", n, layerCount(docker, base))
	}
}

// TestChangeSendsOnlyWhatChanged: after adding a small package, push
// uploads only its layers to an env-cache holding the old environment,
// and another engine holding the old one downloads only those.
func TestChangeSendsOnlyWhatChanged(t *testing.T) {
	bulk := pypitest.Wheel{Name: "bulk", Version: "1.0", Files: []pypitest.File{{Name: "bulk/weights.bin", Data: noise(2 << 20)}}}
	idx := pypitest.New(t, append(slices.Clone(testWheels), bulk)...)
	meter := enginetest.NewMeter(t, enginetest.Registry(t))
	cache := meter.Host + "/mlenv-test/layers"
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\", \"bulk\"]\nindex-url = %q\n[run]\ngpus = \"none\"\nenv-cache = %q\n", idx.URL, cache))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := mlenv(t, dir, "push", cache); r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	first := meter.Uploaded()
	other := enginetest.NewOtherMachine(t)
	t.Setenv("DOCKER_HOST", other.Host)
	if r := mlenv(t, dir, "run", "--", "true"); r.code != 0 || strings.Contains(r.stderr, "Installing") {
		t.Fatalf("the other engine's first run, from the env-cache: exit %d\n%s", r.code, r.stderr)
	}
	t.Setenv("DOCKER_HOST", "")
	toml := filepath.Join(dir, "mlenv.toml")
	writeFile(t, toml, strings.Replace(readFile(t, toml), `"beta", "bulk"`, `"beta", "bulk", "epsilon"`, 1))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	meter.Reset()
	if r := mlenv(t, dir, "push", cache); r.code != 0 {
		t.Fatalf("push of the changed environment: %s", r.stderr)
	}
	if up := meter.Uploaded(); first < 2<<20 || up > 64<<10 {
		t.Errorf("push uploaded %d bytes first, then %d after adding a small package (want the new layers only, under 64 KiB)", first, up)
	}
	t.Setenv("DOCKER_HOST", other.Host)
	if r := mlenv(t, dir, "run", "--", "python3", "-c", "import epsilon, bulk"); r.code != 0 || strings.Contains(r.stderr, "Installing") {
		t.Fatalf("the other engine's run of the changed lock: exit %d\n%s", r.code, r.stderr)
	}
	if down := meter.Downloaded(); down > 64<<10 {
		t.Errorf("the other engine, holding the old environment, downloaded %d bytes of blobs for the new one (want its new layers only, under 64 KiB)", down)
	}
}

// noise is n incompressible bytes (a fixed seed), as model weights are.
func noise(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
