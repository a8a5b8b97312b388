package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/registrytest"
)

// TestLockGolden is the end-to-end golden: `mlenv lock` of each
// testdata/lock/<case>/mlenv.toml against the family fixtures, compared
// with mlenv.lock beside it (-update rewrites them); the library's own
// goldens are in resolve/testdata/lock. The registry's address is written
// as {{registry}}.
func TestLockGolden(t *testing.T) {
	reg := families(t)
	cases, err := filepath.Glob("../../testdata/lock/*/mlenv.toml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, spec := range cases {
		name := filepath.Base(filepath.Dir(spec))
		t.Run(name, func(t *testing.T) {
			dir := newProject(t, reg, readFile(t, spec))
			if r := mlenv(t, dir, "lock"); r.code != 0 {
				t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
			}
			got := registrytest.NormalizeLock(readFile(t, filepath.Join(dir, "mlenv.lock")), reg.Host)
			golden := filepath.Join(filepath.Dir(spec), "mlenv.lock")
			if *update {
				writeFile(t, golden, got)
				return
			}
			if want := readFile(t, golden); got != want {
				t.Errorf("lock differs from %s (run go test ./cmd/mlenv -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

const pytorchSpec = `[image]
family = "pytorch"
version = "~2.1"
variant = "runtime"
registry = "{{registry}}"
platforms = ["linux/amd64", "linux/arm64"]
`

func TestLockIsDeterministic(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	first := readFile(t, filepath.Join(dir, "mlenv.lock"))
	if r := mlenv(t, dir, "lock", "--upgrade"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if second := readFile(t, filepath.Join(dir, "mlenv.lock")); second != first {
		t.Errorf("re-locking changed the bytes:\n%s\n---\n%s", first, second)
	}
	// Another project with the same content, reformatted and reordered.
	other := newProject(t, reg, "# same\n[image]\nplatforms = [\"linux/arm64\",\"linux/amd64\"]\nregistry=\"{{registry}}\"\nvariant=\"runtime\"\nversion=\"~2.1\"\nfamily=\"pytorch\"\n[run]\nworkdir=\"/src\"\n")
	mustLock(t, other)
	if got := readFile(t, filepath.Join(other, "mlenv.lock")); got != first {
		t.Errorf("reformatted mlenv.toml gave another lock:\n%s\n---\n%s", first, got)
	}
}

func mustLock(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := mlenv(t, dir, append([]string{"lock"}, args...)...)
	if r.code != 0 {
		t.Fatalf("mlenv lock %v: exit %d\n%s", args, r.code, r.stderr)
	}
	return r
}

func TestFreshLockNeedsNoNetwork(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	reg.Requests()
	if r := mustLock(t, dir); !strings.Contains(r.stderr, "is up to date") {
		t.Errorf("fresh lock: %s", r.stderr)
	}
	if r := mlenv(t, dir, "lock", "--check"); r.code != 0 {
		t.Errorf("lock --check on a fresh lock: exit %d: %s", r.code, r.stderr)
	}
	if q := reg.Requests(); len(q) != 0 {
		t.Errorf("fresh lock made %d registry requests: %v", len(q), q)
	}
}

func TestCheckExitsThreeWhenStale(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	if r := mlenv(t, dir, "lock", "--check"); r.code != 3 || !strings.Contains(r.stderr, "run `mlenv lock`") {
		t.Errorf("no lock: exit %d: %s", r.code, r.stderr)
	}
	mustLock(t, dir)
	writeFile(t, filepath.Join(dir, "mlenv.toml"), strings.Replace(readFile(t, filepath.Join(dir, "mlenv.toml")), "~2.1", "~2.7", 1))
	reg.Requests()
	r := mlenv(t, dir, "lock", "--check", "--json")
	if r.code != 3 || !strings.Contains(r.stderr, "[image]") || !strings.Contains(r.stdout, `"status": "stale"`) {
		t.Errorf("stale lock: exit %d\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	if q := reg.Requests(); len(q) != 0 {
		t.Errorf("lock --check made %d registry requests", len(q))
	}
}

// TestRunChangeKeepsImagePin: a change to [run] only re-locks without any
// registry request; the image pin stays.
func TestRunChangeKeepsImagePin(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	before := readFile(t, filepath.Join(dir, "mlenv.lock"))
	writeFile(t, filepath.Join(dir, "mlenv.toml"), readFile(t, filepath.Join(dir, "mlenv.toml"))+"[run]\nipc = \"host\"\n")
	reg.Requests()
	mustLock(t, dir)
	after := readFile(t, filepath.Join(dir, "mlenv.lock"))
	if q := reg.Requests(); len(q) != 0 {
		t.Errorf("a [run] change made %d registry requests", len(q))
	}
	if after == before || !strings.Contains(after, `ipc = "host"`) || digestLine(after) != digestLine(before) {
		t.Errorf("lock after [run] change:\n%s", after)
	}
}

func digestLine(lock string) string {
	for _, l := range strings.Split(lock, "\n") {
		if strings.HasPrefix(l, "digest = ") {
			return l
		}
	}
	return ""
}

// TestUpgradeReusesUnmovedTag: --upgrade re-lists tags, and where the
// chosen tag still points at the locked digest it confirms that with a
// HEAD instead of fetching manifests and configs again.
func TestUpgradeReusesUnmovedTag(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	reg.Requests()
	mustLock(t, dir, "--upgrade")
	for _, q := range reg.Requests() {
		if q.Method == "GET" && !strings.HasSuffix(q.Path, "/tags/list") && q.Path != "/v2/" {
			t.Errorf("--upgrade of an unmoved tag fetched %s %s", q.Method, q.Path)
		}
	}
}

func TestFailedLockLeavesOldLock(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	before := readFile(t, filepath.Join(dir, "mlenv.lock"))
	spec := filepath.Join(dir, "mlenv.toml")
	writeFile(t, spec, strings.Replace(readFile(t, spec), "~2.1", "~9.9", 1))
	if r := mlenv(t, dir, "lock"); r.code != 1 || !strings.Contains(r.stderr, "no tag of") {
		t.Errorf("unsatisfiable: exit %d: %s", r.code, r.stderr)
	}
	writeFile(t, spec, strings.Replace(readFile(t, spec), "~9.9", "~2.1", 1)+"[run]\nworkdir = \"relative\"\n")
	if r := mlenv(t, dir, "lock"); r.code != 2 || !strings.Contains(r.stderr, "run.workdir") {
		t.Errorf("bad input: exit %d: %s", r.code, r.stderr)
	}
	if after := readFile(t, filepath.Join(dir, "mlenv.lock")); after != before {
		t.Error("a failed lock changed mlenv.lock")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestCorruptLock(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	lockPath := filepath.Join(dir, "mlenv.lock")
	writeFile(t, lockPath, readFile(t, lockPath)[:200])
	if r := mlenv(t, dir, "lock"); r.code != 2 || !strings.Contains(r.stderr, "mlenv.lock") || !strings.Contains(r.stderr, "--upgrade") {
		t.Errorf("corrupt lock: exit %d: %s", r.code, r.stderr)
	}
	writeFile(t, lockPath, strings.Replace(readFile(t, lockPath), "version = 1", "version = 2", 1))
	if r := mlenv(t, dir, "lock", "--check"); r.code != 2 {
		t.Errorf("lock of unknown version: exit %d: %s", r.code, r.stderr)
	}
	mustLock(t, dir, "--upgrade")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"lock", "--nope"}, {"lock", "extra"}, {"frobnicate"}, {"lock"}} {
		if r := mlenv(t, dir, args...); r.code != 2 {
			t.Errorf("mlenv %v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

// TestEveryCommandHasExamples: each command's --help shows examples.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("mlenv %s has no examples", c.Name())
		}
		for _, sub := range c.Commands() {
			if sub.Example == "" {
				t.Errorf("mlenv %s %s has no examples", c.Name(), sub.Name())
			}
		}
	}
}

// TestHostileInputsExitTwo: inputs larger or deeper than any real file,
// and a lock path that is a directory, are bad input (exit 2) before any
// parsing or network; a symlinked lock is written through its link.
func TestHostileInputsExitTwo(t *testing.T) {
	reg := families(t)
	deep := newProject(t, reg, pytorchSpec+"[run]\ncommand = "+strings.Repeat("[", 1<<20)+"\n")
	if r := mlenv(t, deep, "lock"); r.code != 2 || !strings.Contains(r.stderr, "nested more than 64 levels") {
		t.Errorf("1M levels in mlenv.toml: exit %d: %.300s", r.code, r.stderr)
	}
	dir := newProject(t, reg, pytorchSpec)
	if err := os.Mkdir(filepath.Join(dir, "mlenv.lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify", "--offline"}, {"run", "--", "true"}, {"lock", "--check"}} {
		if r := mlenv(t, dir, args...); r.code != 2 || !strings.Contains(r.stderr, "is a directory") {
			t.Errorf("%v with mlenv.lock a directory: exit %d: %s", args, r.code, r.stderr)
		}
	}
	linked := newProject(t, reg, pytorchSpec)
	if err := os.Symlink("paper.lock", filepath.Join(linked, "mlenv.lock")); err != nil {
		t.Fatal(err)
	}
	mustLock(t, linked) // the link's target does not exist yet
	if fi, err := os.Lstat(filepath.Join(linked, "mlenv.lock")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("mlenv lock replaced the symlink with a file")
	}
	if !strings.Contains(readFile(t, filepath.Join(linked, "paper.lock")), "[integrity]") {
		t.Error("the link's target was not written")
	}
}

// TestPinnedReferencePrinted: a ref with a tag (or a digest) is printed
// once, as a reference tools accept, by lock and lock --json.
func TestPinnedReferencePrinted(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, "[image]\nref = \"{{registry}}/nvidia/cuda:12.6.3-runtime-ubuntu24.04\"\n")
	r := mlenv(t, dir, "lock", "--json")
	want := reg.Host + "/nvidia/cuda:12.6.3-runtime-ubuntu24.04@sha256:"
	if r.code != 0 || !strings.Contains(r.stdout, `"image": "`+want) || !strings.Contains(r.stderr, "Locked "+want) {
		t.Errorf("lock of a tagged ref: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestFlagValuesAreValidated: flag values get mlenv.toml's rules and clear
// errors naming the flag, exit 2, before anything runs.
func TestFlagValuesAreValidated(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--gpus", "lots", "--", "true"}, "command line: --gpus:"},
		{[]string{"run", "--gpus", "foo", "--", "true"}, "device ids like 0,1"},
		{[]string{"run", "--user", "host:1000", "--", "true"}, `user "host:1000": host takes no group`},
		{[]string{"run", "--shm-size", "8x", "--", "true"}, `--shm-size: invalid size "8x"`},
		{[]string{"run", "--workdir", "src", "--", "true"}, `--workdir: workdir "src" is not absolute`},
		{[]string{"run", "-e", "A-B=1", "--", "true"}, `--env: invalid environment variable name "A-B"`},
		{[]string{"run", "--from", t.TempDir(), "--", "true"}, "not an mlenv vendor archive"},
		{[]string{"export", "requirements", "--platform", "linux/s390x"}, "--platform linux/s390x: the lock has linux/amd64, linux/arm64"},
		{[]string{"--registry-timeout", "0s", "verify"}, "--registry-timeout 0s: give a positive duration"},
	} {
		if r := mlenv(t, dir, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("mlenv %v: exit %d, want 2 saying %q:\n%s", tc.args, r.code, tc.want, r.stderr)
		}
	}
}
