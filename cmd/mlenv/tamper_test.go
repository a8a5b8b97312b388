package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// TestTamperedLockIsRefused: a lock edited by hand is refused by run and
// verify, naming the part that changed.
func TestTamperedLockIsRefused(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	path := filepath.Join(dir, "mlenv.lock")
	l := readLock(t, dir)
	l.Packages = []lock.Package{{Name: "alpha", Version: "1.0", Requested: true, Index: "https://pypi.org/simple",
		Hashes: []string{"sha256:" + strings.Repeat("a", 64)}}}
	if err := lock.WriteFile(path, l); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, path)
	digest := regexp.MustCompile(`(?m)^digest = "sha256:[0-9a-f]{64}"`).FindString(good)
	tests := []struct{ name, edited, part string }{
		{"digest changed", strings.Replace(good, digest, `digest = "sha256:`+strings.Repeat("b", 64)+`"`, 1), "[image]"},
		{"hash changed", strings.Replace(good, strings.Repeat("a", 64), strings.Repeat("c", 64), 1), "[[package]]"},
		{"package added", good + "\n[[package]]\nname = \"evil\"\nversion = \"1.0\"\nrequested = true\nindex = \"https://pypi.org/simple\"\nhashes = [\"sha256:" + strings.Repeat("d", 64) + "\"]\n", "[[package]]"},
		{"cuda changed", strings.Replace(good, `cuda = "12.1"`, `cuda = "12.4"`, 1), "[versions]"},
		{"option smuggled into a name", strings.Replace(good, `name = "alpha"`, `name = "alpha --index-url http://evil"`, 1), "not a valid name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edited == good {
				t.Fatal("the edit changed nothing")
			}
			writeFile(t, path, tc.edited)
			for _, args := range [][]string{{"run", "--", "true"}, {"verify", "--offline"}, {"export", "requirements"}} {
				r := mlenv(t, dir, args...)
				if r.code != 2 || !strings.Contains(r.stderr, tc.part) {
					t.Errorf("mlenv %v on a lock with %s: exit %d, want 2 naming %s:\n%s", args, tc.name, r.code, tc.part, r.stderr)
				}
			}
		})
	}
}

// TestHashMismatchStopsRun: the index serves other bytes under a locked
// file's name; installing it fails the hash check and the run stops
// before any container of the user's starts.
func TestHashMismatchStopsRun(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, fmt.Sprintf("[run]\npip-cache = %q\n", "mlenv-test-tamper-cache"))
	evil := pypitest.Wheel{Name: "alpha", Version: "1.0", Requires: []string{"delta"}}
	idx.Add(evil.Filename(), evil.Build())
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // a machine without the files
	r := mlenv(t, dir, "run", "--rebuild", "--pip-cache", "mlenv-test-tamper-cache-2", "--", "python3", "-c", "print('ran')")
	if r.code != 125 || !strings.Contains(r.stderr, "does not match the hash in mlenv.lock") || strings.Contains(r.stdout, "ran") {
		t.Errorf("tampered wheel: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// TestConcurrentLocks: two `mlenv lock` processes on one project at once
// (a slow registry makes them overlap): one resolves and writes, the other
// waits and finds the lock fresh; the lock is whole.
func TestConcurrentLocks(t *testing.T) {
	reg := families(t)
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		time.Sleep(30 * time.Millisecond)
		next.ServeHTTP(w, r)
	}
	defer func() { reg.Wrap = nil }()
	dir := newProject(t, reg, pytorchSpec)
	bin := mlenvBinary(t)
	type out struct {
		code   int
		stderr string
	}
	results := make(chan out, 2)
	for i := 0; i < 2; i++ {
		go func() {
			cmd := exec.Command(bin, "--file", filepath.Join(dir, "mlenv.toml"), "lock")
			var errb strings.Builder
			cmd.Stderr = &errb
			cmd.Run()
			results <- out{cmd.ProcessState.ExitCode(), errb.String()}
		}()
	}
	var locked, fresh int
	for i := 0; i < 2; i++ {
		r := <-results
		if r.code != 0 {
			t.Errorf("a concurrent lock failed: exit %d: %s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "Locked ") {
			locked++
		}
		if strings.Contains(r.stderr, "is up to date") {
			fresh++
		}
	}
	if locked != 1 || fresh != 1 {
		t.Errorf("%d wrote and %d found it fresh, want one each", locked, fresh)
	}
	readLock(t, dir) // whole and valid
}

// TestPoisonedDownloadCache: a bad copy of a locked file in mlenv's
// download cache (the disk changed it, or someone with access) is removed
// and fetched again from the index; the run goes on and says so. A
// mismatch of the fetched file is the index's, and the error says the
// cache was ruled out.
func TestPoisonedDownloadCache(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "[run]\ngpus = \"none\"\n")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	good := pypitest.Wheel{Name: "alpha", Version: "1.0"}
	evil := pypitest.Wheel{Name: "alpha", Version: "1.0", Requires: []string{"delta"}}
	if r := mlenv(t, dir, "build"); r.code != 0 {
		t.Fatalf("build: %s", r.stderr)
	}
	cached, err := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "mlenv", "files", "sha256", "*", good.Filename()))
	if err != nil || len(cached) != 1 {
		t.Fatalf("the download cache has %v (%v)", cached, err)
	}
	writeFile(t, cached[0], string(evil.Build()))
	idx.Add(evil.Filename(), evil.Build())
	r := mlenv(t, dir, "run", "--rebuild", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "the index serves another file") || !strings.Contains(r.stderr, "it is not the download cache's doing") {
		t.Fatalf("the index serving other bytes: exit %d: %s", r.code, r.stderr)
	}
	idx.Add(good.Filename(), good.Build()) // the index is mended
	writeFile(t, cached[0], string(evil.Build()))
	r = mlenv(t, dir, "run", "--rebuild", "--", "python3", "-c", "import alpha; print('ran')")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ran" {
		t.Fatalf("after the index was mended: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "download cache") || !strings.Contains(r.stderr, "held a copy of "+good.Filename()) {
		t.Errorf("the run did not say it removed a bad cached copy: %s", r.stderr)
	}
}

// TestVerifySeesLockedFilesUpstream: verify checks each locked file on its
// index: a yanked one warns with the index's reason, a removed one fails
// as file-gone (exit 1), in human and --json output alike.
func TestVerifySeesLockedFilesUpstream(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "")
	if r := mlenv(t, dir, "verify"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "ok   locked files: 2 of 2 on their indexes") {
		t.Fatalf("verify with every file upstream: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	idx.Yank("alpha-1.0-py3-none-any.whl", "wrong metadata")
	if r := mlenv(t, dir, "verify"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "warn file alpha-1.0-py3-none-any.whl: yanked on its index (wrong metadata)") {
		t.Errorf("verify with a yanked file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	idx.Remove("beta-1.0-py3-none-any.whl")
	r := mlenv(t, dir, "verify")
	if out := r.stdout + r.stderr; r.code != 1 || !strings.Contains(out, "fail file beta-1.0-py3-none-any.whl:") || !strings.Contains(out, "[file-gone]") {
		t.Errorf("verify with a removed file: exit %d\n%s", r.code, out)
	}
	if j := mlenv(t, dir, "verify", "--json"); j.code != 1 || !strings.Contains(j.stdout, `"code": "file-gone"`) && !strings.Contains(j.stdout, `"code":"file-gone"`) {
		t.Errorf("verify --json with a removed file: exit %d\n%s", j.code, j.stdout)
	}
	// What upstream removed, the download cache still has: vendor saves it.
	archive := filepath.Join(t.TempDir(), "archive")
	if r := mlenv(t, dir, "vendor", archive); r.code != 0 {
		t.Errorf("vendor with a file gone upstream: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(archive, "wheels", "beta-1.0-py3-none-any.whl")); err != nil {
		t.Errorf("the archive lacks the file upstream removed: %v", err)
	}
}
