package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

var (
	pyOnce sync.Once
	pyRef  string
)

// pythonRef pushes the Debian python test image (EXTERNALLY-MANAGED system
// python with pip) to the docker-registry once and returns its reference.
func pythonRef(t *testing.T) string {
	t.Helper()
	img := enginetest.PythonImage(t)
	host := enginetest.Registry(t)
	pyOnce.Do(func() {
		pyRef = host + "/mlenv-test/python:bookworm"
		enginetest.Docker(t, nil, "tag", img, pyRef)
		enginetest.Docker(t, nil, "push", "--quiet", pyRef)
	})
	return pyRef
}

// testWheels is a small dependency graph with two versions of a package.
var testWheels = []pypitest.Wheel{
	{Name: "alpha", Version: "1.0"},
	{Name: "beta", Version: "1.0", Requires: []string{"alpha>=1.0"}},
	{Name: "gamma", Version: "0.5", Requires: []string{"beta", "delta<2"}},
	{Name: "delta", Version: "1.0"},
	{Name: "delta", Version: "2.0"},
	{Name: "epsilon", Version: "1.0", Requires: []string{"delta"}},
}

func pipProject(t *testing.T, ref string, body string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), "[image]\nref = \""+ref+"\"\n\n"+body)
	return dir
}

func readLock(t *testing.T, dir string) *lock.Lock {
	t.Helper()
	l, err := lock.ReadFile(filepath.Join(dir, "mlenv.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func packagesOf(l *lock.Lock) map[string]lock.Package {
	out := map[string]lock.Package{}
	for _, p := range l.Packages {
		out[p.Name] = p
	}
	return out
}

// TestPipLockInstallsExactly locks [pip] in the Debian python image (its
// system python is EXTERNALLY-MANAGED) and installs the locked set with
// hashes required and no dependency resolution: pip freeze must equal the
// lock.
func TestPipLockInstallsExactly(t *testing.T) {
	ref := pythonRef(t)
	idx := pypitest.New(t, testWheels...)
	debian := idx.AddDebianWheels(t)
	dir := pipProject(t, ref, "[pip]\npackages = [\"gamma\", \"alpha==1.0\", \"wheel\"]\nrequirements = \"requirements.txt\"\nindex-url = \""+idx.URL+"\"\n")
	writeFile(t, filepath.Join(dir, "requirements.txt"), "# from the paper\nbeta  # needed\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	pk := packagesOf(l)
	want := map[string]struct {
		version   string
		requested bool
	}{"alpha": {"1.0", true}, "beta": {"1.0", true}, "gamma": {"0.5", true}, "delta": {"1.0", false}}
	if len(pk) != len(want) {
		t.Errorf("locked %v, want %v (wheel is in the image already: %v)", l.Packages, want, debian)
	}
	for name, w := range want {
		p, ok := pk[name]
		if !ok || p.Version != w.version || p.Requested != w.requested {
			t.Errorf("%s: locked %+v, want version %s requested %v", name, p, w.version, w.requested)
			continue
		}
		file := pypitest.Wheel{Name: name, Version: w.version}.Filename()
		if len(p.Hashes) != 1 || p.Hashes[0] != "sha256:"+idx.SHA256(file) || p.Index != idx.URL {
			t.Errorf("%s: hashes %v index %s, want sha256:%s from %s", name, p.Hashes, p.Index, idx.SHA256(file), idx.URL)
		}
	}
	if !strings.HasPrefix(l.Versions.Python, "3.") || l.Versions.Sources["python"] != "probe" {
		t.Errorf("python = %q (source %q)", l.Versions.Python, l.Versions.Sources["python"])
	}
	if !hasDist(l.Base, "pip") || !hasDist(l.Base, "wheel") {
		t.Errorf("[[base]] lacks the image's pip and wheel: %v", l.Base)
	}
	if frozen := installLocked(t, ref, idx.URL, l); frozen != freezeOf(l) {
		t.Errorf("pip freeze after installing the lock:\n%s\nwant:\n%s", frozen, freezeOf(l))
	}
}

func hasDist(ds []lock.Dist, name string) bool {
	for _, d := range ds {
		if strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

func freezeOf(l *lock.Lock) string {
	var lines []string
	for _, p := range l.Packages {
		lines = append(lines, p.Name+"=="+p.Version)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// installLocked installs the lock's packages into a fresh venv in the image
// with `pip install --require-hashes --no-deps` and returns `pip freeze
// --local`, names normalized and sorted.
func installLocked(t *testing.T, ref, index string, l *lock.Lock) string {
	t.Helper()
	dir := t.TempDir()
	var req strings.Builder
	for _, p := range l.Packages {
		req.WriteString(p.Name + "==" + p.Version)
		for _, h := range p.Hashes {
			req.WriteString(" --hash=" + strings.Replace(h, ":", ":", 1))
		}
		req.WriteString("\n")
	}
	writeFile(t, filepath.Join(dir, "requirements.txt"), req.String())
	writeFile(t, filepath.Join(dir, "check.py"), `import subprocess, sys
subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", "/v"], check=True)
pip = ["/v/bin/python", "-m", "pip", "--disable-pip-version-check"]
subprocess.run(pip + ["install", "--quiet", "--require-hashes", "--no-deps", "--index-url", sys.argv[1], "-r", "/req/requirements.txt"], check=True, stdout=sys.stderr)
subprocess.run(pip + ["freeze", "--local"], check=True)
`)
	os.Chmod(dir, 0o755)
	out := enginetest.Docker(t, nil, "run", "--rm", "--network", "host", "-v", dir+":/req:ro", ref, "python3", "/req/check.py", index)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			name, ver, _ := strings.Cut(l, "==")
			lines = append(lines, strings.ToLower(strings.ReplaceAll(name, "_", "-"))+"=="+ver)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestStaleReasonNamesTheRequirementsFile: editing only requirements.txt
// makes the lock stale, and the reason names that file, not mlenv.toml.
func TestStaleReasonNamesTheRequirementsFile(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\nrequirements = \"requirements.txt\"\nindex-url = %q\n", idx.URL))
	writeFile(t, filepath.Join(dir, "requirements.txt"), "alpha\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	writeFile(t, filepath.Join(dir, "requirements.txt"), "alpha\nbeta\n")
	r := mlenv(t, dir, "lock", "--check", "--json")
	if r.code != 3 || !strings.Contains(r.stderr, "requirements.txt ([pip] requirements) changed since the lock was written") || strings.Contains(r.stderr, "mlenv.toml changed") ||
		!strings.Contains(r.stdout, `"changed-files": [`) {
		t.Errorf("requirements edited: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "mlenv.toml"), readFile(t, filepath.Join(dir, "mlenv.toml"))+"extra-index-urls = [\"http://127.0.0.1:9/simple\"]\n")
	if r := mlenv(t, dir, "lock", "--check"); r.code != 3 || !strings.Contains(r.stderr, "mlenv.toml changed ([pip]) and requirements.txt ([pip] requirements) since the lock was written") {
		t.Errorf("both edited: exit %d: %s", r.code, r.stderr)
	}
}
