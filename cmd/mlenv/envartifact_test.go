package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	v1tarball "github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
)

const importBoth = "import alpha, beta, sys; print(alpha.__version__, beta.__version__, sys.prefix)"

// TestEnvironmentIsTheLockedArtifact is one lock on two machines: the
// shared engine (overlay2, warm caches) and another engine (vfs, its own
// bridge and socket, an empty download cache), at different times. Both
// build exactly the locked digests; a re-tagged environment image is not
// run; verify --deep passes, then names the files of a changed copy; the
// environment pushed once is pulled by the other machine by digest, and
// the index serves no wheel to it.
func TestEnvironmentIsTheLockedArtifact(t *testing.T) {
	zeta := pypitest.Wheel{Name: "zeta", Version: "1.0", Scripts: map[string]string{"zeta-hello": "zeta.cli:main"},
		Files: []pypitest.File{
			{Name: "zeta/cli.py", Data: []byte("def main():\n    print('zeta cli')\n")},
			{Name: "zeta-1.0.data/scripts/zeta-raw", Data: []byte("#!python\nimport sys\nprint('zeta raw', sys.prefix)\n")},
			{Name: "zeta-1.0.data/data/share/zeta/notes.txt", Data: []byte("notes\n")},
		}}
	idx := pypitest.New(t, append(slices.Clone(testWheels), zeta)...)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\", \"zeta\"]\nindex-url = %q\n[run]\npip-cache = \"mlenv-test-pip-cache\"\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	pl := l.Image.Platforms[0]
	if pl.EnvDigest == "" || pl.EnvConfig == "" || pl.EnvDigest == pl.Digest {
		t.Fatalf("the lock records no environment: %+v", pl)
	}
	env, err := runner.EnvFor(l, pl.Platform, l.Run.PipCache)
	if err != nil {
		t.Fatal(err)
	}

	// This machine: the run uses exactly the locked image.
	if r := mlenv(t, dir, "run", "--", "python3", "-c", importBoth); r.code != 0 || !strings.HasPrefix(r.stdout, "1.0 1.0 /opt/mlenv/venv") {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// What mlenv's installer wrote works as pip's would: console scripts,
	// .data scripts with #!python rewritten, data files, pip's own view.
	tools := "zeta-hello && zeta-raw && cat /opt/mlenv/venv/share/zeta/notes.txt && python3 -m pip list --path /opt/mlenv/venv/lib/python3.11/site-packages 2>/dev/null | grep -c -E '^(alpha|beta|zeta) '"
	if r := mlenv(t, dir, "run", "--", "sh", "-c", tools); r.code != 0 || r.stdout != "zeta cli\nzeta raw /opt/mlenv/venv\nnotes\n3\n" {
		t.Fatalf("the installed tools: exit %d\n%q\n%s", r.code, r.stdout, r.stderr)
	}
	if id := enginetest.Docker(t, nil, "image", "inspect", "-f", "{{.Id}}", env.Image()); id != pl.EnvConfig {
		t.Fatalf("the engine's %s is %s, the lock says %s", env.Image(), id, pl.EnvConfig)
	}
	if r := mlenv(t, dir, "verify", "--deep"); r.code != 0 {
		t.Fatalf("verify --deep: exit %d\n%s", r.code, r.stderr)
	}

	// A build that does not reproduce the lock never runs: a lock whose
	// env-config says otherwise (its integrity recomputed) exits 125,
	// comparing with the engine's build.
	forgedLock := *l
	forgedLock.Image.Platforms = slices.Clone(l.Image.Platforms)
	forgedLock.Image.Platforms[0].EnvConfig = "sha256:" + strings.Repeat("f", 64)
	lockPath := filepath.Join(dir, "mlenv.lock")
	goodLock := readFile(t, lockPath)
	if err := lock.WriteFile(lockPath, &forgedLock); err != nil {
		t.Fatal(err)
	}
	r := mlenv(t, dir, "run", "--", "python3", "-c", "print('ran')")
	if r.code != 125 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "env digests were edited") {
		t.Fatalf("run of a lock whose digests this machine did not compute: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	home := os.Getenv("XDG_CACHE_HOME")
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // no record: built and compared
	r = mlenv(t, dir, "run", "--", "python3", "-c", "print('ran')")
	if r.code != 125 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "the build is not reproducible") || !strings.Contains(r.stderr, "so the config differs") {
		t.Fatalf("run of a lock its build does not reproduce: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Setenv("XDG_CACHE_HOME", home)
	writeFile(t, lockPath, goodLock)

	// A [run]-only change keeps the digests and fetches nothing.
	writeFile(t, filepath.Join(dir, "mlenv.toml"), readFile(t, filepath.Join(dir, "mlenv.toml"))+"shm-size = \"1g\"\n")
	fetched := maps.Clone(idx.Downloads())
	if r := mlenv(t, dir, "lock"); r.code != 0 || readLock(t, dir).Image.Platforms[0] != pl || fmt.Sprint(idx.Downloads()) != fmt.Sprint(fetched) {
		t.Fatalf("a [run]-only change: exit %d, platform %+v, was %+v, downloads %v then %v\n%s", r.code, readLock(t, dir).Image.Platforms[0], pl, fetched, idx.Downloads(), r.stderr)
	}

	// Another machine, an empty download cache, later: the same digests.
	// It has not computed the environment, so it builds it rather than
	// trust an env-cache, and says so.
	records, err := userdir.Cache("envs") // this machine's
	if err != nil {
		t.Fatal(err)
	}
	other := enginetest.NewOtherMachine(t)
	t.Setenv("DOCKER_HOST", other.Host)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	empty := enginetest.Registry(t) + "/mlenv-test/no-envs"
	if r := mlenv(t, dir, "run", "--env-cache", empty, "--", "true"); r.code != 0 || !strings.Contains(r.stderr, "building it from the locked files to check the lock's env digests") {
		t.Fatalf("run with an env-cache on a machine that did not compute the environment: exit %d\n%s", r.code, r.stderr)
	}
	other.Docker(nil, "rmi", env.Image())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	b := mlenv(t, dir, "build", "--json")
	if b.code != 0 || !strings.Contains(b.stdout, pl.EnvDigest) || !strings.Contains(b.stdout, `"loaded": true`) {
		t.Fatalf("build on the other machine: exit %d\n%s\n%s", b.code, b.stdout, b.stderr)
	}
	if id := other.Docker(nil, "image", "inspect", "-f", "{{.Id}}", env.Image()); id != pl.EnvConfig {
		t.Fatalf("the other machine built %s, the lock says %s", id, pl.EnvConfig)
	}
	if driver := other.Docker(nil, "info", "-f", "{{.Driver}}"); driver != "vfs" {
		t.Fatalf("the other machine's storage driver is %s", driver)
	}
	// A layer per package: the base image's, the venv's, then alpha,
	// beta and zeta each their own.
	baseLayers := layerCount(other.Docker, l.Image.Repository+"@"+l.Image.Digest)
	if n := layerCount(other.Docker, env.Image()); l.Image.EnvLayout != lock.LayoutLayers || n != baseLayers+4 {
		t.Errorf("layout %q: the environment has %d layers on the base image's %d, want one for the venv and one per package", l.Image.EnvLayout, n, baseLayers)
	}
	// The same packages in another order in mlenv.toml, locked and built
	// on the other machine with empty caches: the same environment.
	reordered := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"zeta\", \"beta\"]\nindex-url = %q\n[run]\npip-cache = \"mlenv-test-pip-cache\"\n", idx.URL))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if r := mlenv(t, reordered, "lock"); r.code != 0 || readLock(t, reordered).Image.Platforms[0].EnvDigest != pl.EnvDigest {
		t.Fatalf("lock of the reordered packages: exit %d, env %s, want %s\n%s", r.code, readLock(t, reordered).Image.Platforms[0].EnvDigest, pl.EnvDigest, r.stderr)
	}
	other.Docker(nil, "rmi", env.Image())
	if r := mlenv(t, reordered, "run", "--", "true"); r.code != 0 || other.Docker(nil, "image", "inspect", "-f", "{{.Id}}", env.Image()) != pl.EnvConfig {
		t.Fatalf("run of the reordered lock on the other machine: exit %d\n%s", r.code, r.stderr)
	}

	// Push once (from this machine), pull everywhere the user's record is
	// (a shared home): the other machine, its engine and download cache
	// cleared, runs the environment from the env-cache; the index serves
	// it nothing.
	cache := enginetest.Registry(t) + "/mlenv-test/envs"
	t.Setenv("DOCKER_HOST", "")
	if r := mlenv(t, dir, "push", cache); r.code != 0 || !strings.Contains(r.stderr, cache+"@"+pl.EnvDigest) {
		t.Fatalf("push: exit %d\n%s", r.code, r.stderr)
	}
	t.Setenv("DOCKER_HOST", other.Host)
	shared := t.TempDir()
	if err := os.CopyFS(filepath.Join(shared, "mlenv", "envs"), os.DirFS(records)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", shared)
	other.Docker(nil, "rmi", env.Image())
	before := maps.Clone(idx.Downloads())
	r = mlenv(t, dir, "run", "--env-cache", cache, "--", "python3", "-c", importBoth)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1.0 1.0 /opt/mlenv/venv") || strings.Contains(r.stderr, "Installing") {
		t.Fatalf("run from the env-cache: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := idx.Downloads(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the index served files to a machine with the env-cache: %v, then %v", before, after)
	}
	// What mlenv pulled by digest goes with its name when pruned.
	if r := mlenv(t, dir, "cache", "prune", "--all"); r.code != 0 {
		t.Fatalf("cache prune: %s", r.stderr)
	}
	if left := other.Docker(nil, "images", "-q", "--filter", "label="+runner.LabelEnv); left != "" {
		t.Errorf("environment images left after prune on the other machine: %s", left)
	}
	t.Setenv("DOCKER_HOST", "")

	// Someone re-tags the environment's name on the shared engine to a
	// changed copy: run does not use it, verify --deep names the file.
	forged := enginetest.Derive(t, env.Image(), "mlenv-test-forged:env", nil, "sh", "-c",
		"echo '__version__ = \"6.6.6\"' > /opt/mlenv/venv/lib/python3.11/site-packages/alpha/__init__.py")
	enginetest.Docker(t, nil, "tag", forged, env.Image())
	t.Cleanup(func() { exec.Command("docker", "rmi", "mlenv-test-forged:env").Run() })
	r = mlenv(t, dir, "run", "--", "python3", "-c", importBoth)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1.0 1.0") || !strings.Contains(r.stderr, "not the locked environment") {
		t.Fatalf("run with a re-tagged environment: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	enginetest.Docker(t, nil, "tag", forged, env.Image())
	v := mlenv(t, dir, "verify", "--deep")
	if v.code != 1 || !strings.Contains(v.stderr, "site-packages/alpha/__init__.py: other content") {
		t.Fatalf("verify --deep with a changed environment image: exit %d\n%s", v.code, v.stderr)
	}
	enginetest.Docker(t, nil, "rmi", env.Image())
}

// TestSdistFallsBackToPip: a locked file that is not a wheel is installed
// by pip in a container of the image (and said so); the venv read back is
// normalized like any other, so the run reproduces the digest the lock
// recorded, and the environment works.
func TestSdistFallsBackToPip(t *testing.T) {
	idx, sigma := sdistIndex(t)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\", \"sigma\"]\nindex-url = %q\n[run]\ngpus = \"none\"\n", idx.URL))
	r := mlenv(t, dir, "lock")
	if r.code != 0 || !strings.Contains(r.stderr, sigma.Filename()+" is not a wheel: pip installs the environment in a container") ||
		!strings.Contains(r.stderr, "Built from source (no wheel): "+sigma.Filename()+": pip builds them in a container of the image with their locked build requirements (setuptools ") {
		t.Fatalf("lock: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	if pk := packagesOf(l)["sigma"]; !strings.HasSuffix(pk.URL, ".tar.gz") {
		t.Fatalf("sigma is locked as %+v", pk)
	}
	r = mlenv(t, dir, "run", "--", "python3", "-c", "import alpha, beta, sigma; print(sigma.__version__)")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "1.0" {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	env, _ := runner.EnvFor(l, l.Image.Platforms[0].Platform, l.Run.PipCache)
	if id := enginetest.Docker(t, nil, "image", "inspect", "-f", "{{.Id}}", env.Image()); id != l.Image.Platforms[0].EnvConfig {
		t.Fatalf("the run's environment is %s, the lock says %s", id, l.Image.Platforms[0].EnvConfig)
	}
	if out := enginetest.Docker(t, nil, "run", "--rm", env.Image(), "sh", "-c", "find /opt/mlenv/venv -name '*.pyc' | wc -l"); out != "0" {
		t.Errorf("the environment holds %s .pyc files", out)
	}
}

// TestOtherPlatformNeedsEmulation: files that are not wheels go through
// pip in a container of the platform's image; for another platform than
// the engine's that needs emulation, and where the engine has none the
// error names both fixes. The arm64 image's python is an arm64 ELF header:
// the kernel refuses it as it would the real one (exec format error).
func TestOtherPlatformNeedsEmulation(t *testing.T) {
	if out, _ := exec.Command("sh", "-c", "ls /proc/sys/fs/binfmt_misc/ 2>/dev/null | grep -i aarch64").Output(); len(out) > 0 {
		t.Skip("this machine runs arm64 programs under emulation (binfmt_misc has " + strings.TrimSpace(string(out)) + ")")
	}
	idx, _ := sdistIndex(t)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"sigma\"]\nindex-url = %q\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	// The same lock, as if written on an arm64 machine.
	elf := make([]byte, 64)
	copy(elf, "\x7fELF\x02\x01\x01")
	elf[16], elf[18] = 2, 183 // ET_EXEC, EM_AARCH64
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "usr/bin/python3", Mode: 0o755, Size: int64(len(elf))})
	tw.Write(elf)
	tw.Close()
	layer, err := v1tarball.LayerFromReader(&tarball)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err == nil {
		img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "arm64", RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(t, img)},
			Config: v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}})
	}
	if err != nil {
		t.Fatal(err)
	}
	ref := mustParse(t, enginetest.Registry(t)+"/mlenv-test/arm64-python:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	cfg, _ := img.ConfigName()
	l := readLock(t, dir)
	l.Image.Repository, l.Image.Digest = ref.Context().Name(), digest.String()
	l.Image.Platforms = []lock.Platform{{Platform: "linux/arm64", Digest: digest.String(), Config: cfg.String()}}
	for i := range l.Packages {
		l.Packages[i].Platforms = nil
	}
	if err := lock.WriteFile(filepath.Join(dir, "mlenv.lock"), l); err != nil {
		t.Fatal(err)
	}
	r := mlenv(t, dir, "build", "--frozen")
	if r.code != 1 || !strings.Contains(r.stderr, "qemu-user-static") || !strings.Contains(r.stderr, "binfmt-support") || !strings.Contains(r.stderr, "exec format error") {
		t.Errorf("build of another platform's pip environment: exit %d\n%s", r.code, r.stderr)
	}
}

func mustDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// sdistIndex serves the test wheels, an sdist (sigma 1.0) and what pip
// builds it with (Debian's setuptools and wheel).
func sdistIndex(t *testing.T) (*pypitest.Index, pypitest.Sdist) {
	t.Helper()
	idx := pypitest.New(t, testWheels...)
	idx.AddDebianWheels(t)
	sigma := pypitest.Sdist{Name: "sigma", Version: "1.0"}
	idx.Add(sigma.Filename(), sigma.Build())
	return idx, sigma
}

// TestSdistBuildRequirementsAreLocked: an sdist's [build-system] requires
// are locked with hashes; a newer setuptools on the index changes nothing
// (the rebuild installs the locked one and reproduces the locked digest);
// the archive holds them, and restores the sdist lock with mlenv in a
// network namespace of its own (no network) and the index gone.
func TestSdistBuildRequirementsAreLocked(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	idx.AddDebianWheels(t)
	tau := pypitest.Sdist{Name: "tau", Version: "1.0", BuildRequires: []string{"setuptools>=40", "wheel"}}
	idx.Add(tau.Filename(), tau.Build())
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"tau\"]\nindex-url = %q\n[run]\ngpus = \"none\"\ncommand = [\"python3\", \"-c\", \"import tau; print('built', tau.__version__)\"]\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	l := readLock(t, dir)
	build := map[string]lock.Package{}
	for _, p := range l.Build {
		build[p.Name] = p
	}
	setuptools := build["setuptools"]
	if setuptools.Version == "" || len(setuptools.Hashes) == 0 || build["wheel"].Version == "" || !strings.Contains(readFile(t, filepath.Join(dir, "mlenv.lock")), "[[build-package]]") {
		t.Fatalf("the build requirements are not locked: %+v", l.Build)
	}
	// A newer setuptools that cannot build anything: a build that floats
	// takes it and fails.
	idx.Add("setuptools-99.0-py3-none-any.whl", pypitest.Wheel{Name: "setuptools", Version: "99.0"}.Build())
	r := mlenv(t, dir, "run", "--rebuild")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "built 1.0" {
		t.Fatalf("a rebuild with a newer setuptools on the index: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	env, _ := runner.EnvFor(l, l.Image.Platforms[0].Platform, l.Run.PipCache)
	if id := enginetest.Docker(t, nil, "image", "inspect", "-f", "{{.Id}}", env.Image()); id != l.Image.Platforms[0].EnvConfig {
		t.Errorf("the rebuild is %s, the lock says %s", id, l.Image.Platforms[0].EnvConfig)
	}
	archive := filepath.Join(t.TempDir(), "archive")
	if r := mlenv(t, dir, "vendor", archive); r.code != 0 {
		t.Fatalf("vendor: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(archive, "wheels", path.Base(setuptools.URL))); err != nil {
		t.Errorf("the archive lacks the locked setuptools: %v", err)
	}
	if index := readFile(t, filepath.Join(archive, "image", "index.json")); !strings.Contains(index, l.Image.Platforms[0].EnvDigest) {
		t.Errorf("the archive lacks the environment image %s:\n%s", l.Image.Platforms[0].EnvDigest, index)
	}
	idx.Close()
	exec.Command("docker", "rmi", "-f", l.Image.Platforms[0].EnvConfig).Run()
	ns := fmt.Sprintf("mlenv-offline-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		enginetest.Missing(t, fmt.Sprintf("network namespaces (ip netns add: %v %s)", err, out))
	}
	defer exec.Command("ip", "netns", "delete", ns).Run()
	cmd := exec.Command("ip", "netns", "exec", ns, mlenvBinary(t), "--file", filepath.Join(dir, "mlenv.toml"), "run", "--from", archive, "--rebuild")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "built 1.0") {
		t.Errorf("run --from with no network: %v\n%s", err, out)
	}
}
