package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/internal/registrytest"
)

// TestPipIndexes: an index that serves no hashes still yields hashes (of
// the files downloaded); a local version label comes from an extra index
// and the lock names that index; pinning another version of a package the
// image has says which version it replaces.
func TestPipIndexes(t *testing.T) {
	ref := pythonRef(t)
	main := pypitest.New(t, testWheels[0], testWheels[1], pypitest.Wheel{Name: "wheel", Version: "0.42.0"})
	main.NoHashes = true
	main.AddDebianWheels(t)
	extra := pypitest.New(t, pypitest.Wheel{Name: "torchlike", Version: "2.1.0+cu121"}, pypitest.Wheel{Name: "torchlike", Version: "2.1.0"})
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"beta\", \"torchlike==2.1.0+cu121\", \"wheel==0.42.0\"]\nindex-url = %q\nextra-index-urls = [%q]\n", main.URL, extra.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	pk := packagesOf(readLock(t, dir))
	for _, c := range []struct {
		name, version string
		idx           *pypitest.Index
	}{{"alpha", "1.0", main}, {"beta", "1.0", main}, {"wheel", "0.42.0", main}, {"torchlike", "2.1.0+cu121", extra}} {
		p := pk[c.name]
		file := pypitest.Wheel{Name: c.name, Version: c.version}.Filename()
		if p.Version != c.version || len(p.Hashes) != 1 || p.Hashes[0] != "sha256:"+c.idx.SHA256(file) || p.Index != c.idx.URL {
			t.Errorf("%s: %+v, want %s sha256:%s from %s", c.name, p, c.version, c.idx.SHA256(file), c.idx.URL)
		}
	}
	if pk["wheel"].Replaces == "" || pk["wheel"].Replaces == "0.42.0" {
		t.Errorf("wheel 0.42.0 over the image's wheel: replaces = %q, want the image's version", pk["wheel"].Replaces)
	}
}

var (
	multiOnce sync.Once
	multiRef  string
)

// multiPlatformPython pushes an index of the python image for linux/amd64
// and a config-only linux/arm64 image: this engine cannot run arm64, so
// pip must resolve for it with cross-platform flags.
func multiPlatformPython(t *testing.T) string {
	ref := pythonRef(t)
	multiOnce.Do(func() {
		amd, err := remote.Image(mustParse(t, ref))
		if err != nil {
			t.Fatal(err)
		}
		arm := registrytest.Image{Platform: "linux/arm64"}.Build(t, "python-arm64")
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		idx = mutate.AppendManifests(idx,
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
		multiRef = strings.Replace(ref, "mlenv-test/python:", "mlenv-test/python-multi:", 1)
		if err := remote.WriteIndex(mustParse(t, multiRef), idx); err != nil {
			t.Fatal(err)
		}
	})
	return multiRef
}

func mustParse(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var platformWheels = []pypitest.Wheel{
	{Name: "fastmath", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_x86_64"},
	{Name: "fastmath", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_aarch64"},
	{Name: "onlyx86", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_x86_64"},
}

func TestPipCrossPlatform(t *testing.T) {
	ref := multiPlatformPython(t)
	idx := pypitest.New(t, append(testWheels, platformWheels...)...)
	dir := pipProject(t, ref, fmt.Sprintf("platforms = [\"linux/amd64\", \"linux/arm64\"]\n[pip]\npackages = [\"beta\", \"fastmath\"]\nindex-url = %q\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	var fast []string
	for _, p := range l.Packages {
		switch p.Name {
		case "alpha", "beta":
			if len(p.Platforms) != 0 {
				t.Errorf("%s is the same on every platform, but the lock says %v", p.Name, p.Platforms)
			}
		case "fastmath":
			if len(p.Platforms) != 1 {
				t.Fatalf("fastmath entry without one platform: %+v", p)
			}
			arch := map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[p.Platforms[0]]
			file := pypitest.Wheel{Name: "fastmath", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_" + arch}.Filename()
			if p.Hashes[0] != "sha256:"+idx.SHA256(file) {
				t.Errorf("fastmath for %s: hash %s, want that of %s", p.Platforms[0], p.Hashes[0], file)
			}
			fast = append(fast, p.Platforms[0])
		}
	}
	if len(fast) != 2 || len(l.Packages) != 4 {
		t.Errorf("packages = %+v, want alpha, beta and one fastmath per platform", l.Packages)
	}

	writeFile(t, filepath.Join(dir, "mlenv.toml"), strings.Replace(readFile(t, filepath.Join(dir, "mlenv.toml")), `"fastmath"`, `"onlyx86"`, 1))
	r := mlenv(t, dir, "lock")
	if r.code == 0 || !strings.Contains(r.stderr, "linux/arm64") || !strings.Contains(r.stderr, "onlyx86") {
		t.Errorf("a package with no arm64 wheel: exit %d\n%s", r.code, r.stderr)
	}
}

func TestOldPipStillLocks(t *testing.T) {
	img := enginetest.OldPythonImage(t)
	ref := enginetest.Push(t, img, enginetest.Registry(t)+"/mlenv-test/python:bullseye")
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock with pip 20.3: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	pk := packagesOf(l)
	for name, w := range map[string]bool{"alpha": false, "beta": true} {
		file := pypitest.Wheel{Name: name, Version: "1.0"}.Filename()
		if p := pk[name]; p.Version != "1.0" || p.Requested != w || len(p.Hashes) != 1 || p.Hashes[0] != "sha256:"+idx.SHA256(file) {
			t.Errorf("%s: %+v", name, p)
		}
	}
	if !strings.HasPrefix(l.Versions.Python, "3.9") || len(l.Packages) != 2 {
		t.Errorf("python %s, packages %+v", l.Versions.Python, l.Packages)
	}
	if frozen := installLocked(t, ref, idx.URL, l); frozen != freezeOf(l) {
		t.Errorf("pip freeze after installing the lock:\n%s\nwant:\n%s", frozen, freezeOf(l))
	}
}

func TestPipUpgradePackageAndStaleness(t *testing.T) {
	ref := pythonRef(t)
	idx := pypitest.New(t, testWheels[0], testWheels[1], testWheels[3], testWheels[5])
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"beta\"]\nrequirements = \"requirements.txt\"\nindex-url = %q\n", idx.URL))
	writeFile(t, filepath.Join(dir, "requirements.txt"), "epsilon\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d\n%s", r.code, r.stderr)
	}
	if pk := packagesOf(readLock(t, dir)); pk["alpha"].Version != "1.0" || pk["delta"].Version != "1.0" {
		t.Fatalf("first lock: %+v", pk)
	}
	// New releases appear; --upgrade-package alpha takes alpha's, keeps delta's.
	for _, w := range []pypitest.Wheel{{Name: "alpha", Version: "2.0"}, {Name: "delta", Version: "2.0"}} {
		idx.Add(w.Filename(), w.Build())
	}
	r := mlenv(t, dir, "lock", "--upgrade-package", "alpha")
	if r.code != 0 {
		t.Fatalf("--upgrade-package: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "~ alpha 1.0 → 2.0") || strings.Contains(r.stderr, "delta") { // what moved, as uv lock says
		t.Errorf("lock does not say what moved:\n%s", r.stderr)
	}
	if pk := packagesOf(readLock(t, dir)); pk["alpha"].Version != "2.0" || pk["delta"].Version != "1.0" || pk["beta"].Version != "1.0" {
		t.Errorf("after --upgrade-package alpha: alpha %s delta %s beta %s, want 2.0 1.0 1.0", pk["alpha"].Version, pk["delta"].Version, pk["beta"].Version)
	}
	if r := mlenv(t, dir, "lock", "--upgrade-package", "nosuch"); r.code != 2 {
		t.Errorf("--upgrade-package of an unlocked package: exit %d", r.code)
	}
	// The requirements file's content is part of the lock's input.
	writeFile(t, filepath.Join(dir, "requirements.txt"), "epsilon\ngamma\n")
	if r := mlenv(t, dir, "lock", "--check"); r.code != 3 || !strings.Contains(r.stderr, "[pip]") {
		t.Errorf("requirements changed: lock --check exit %d: %s", r.code, r.stderr)
	}
}

// TestPipBadInput: each problem is a clear error and the old lock stays
// byte for byte.
func TestPipBadInput(t *testing.T) {
	ref := pythonRef(t)
	host := enginetest.Registry(t)
	idx := pypitest.New(t, append(testWheels, pypitest.Wheel{Name: "oldalpha-user", Version: "1.0", Requires: []string{"alpha<2"}}, pypitest.Wheel{Name: "alpha", Version: "2.0"})...)
	noPython := host + "/mlenv-test/nopython:1"
	enginetest.Docker(t, tinyRootfs(t, "no python here"), "import", "-", noPython)
	enginetest.Docker(t, nil, "push", "--quiet", noPython)
	noPip := enginetest.Push(t, enginetest.Derive(t, enginetest.PythonImage(t), "mlenv-test/nopip:1", nil, "rm", "-rf", "/usr/lib/python3/dist-packages/pip"), host+"/mlenv-test/nopip:1")
	withUser := enginetest.Push(t, enginetest.Derive(t, enginetest.PythonImage(t), "mlenv-test/withuser:1", nil,
		"python3", "-m", "pip", "install", "--quiet", "--break-system-packages", "--index-url", idx.URL, "oldalpha-user==1.0", "alpha==1.0"), host+"/mlenv-test/withuser:1")

	tests := []struct {
		name, image, pip, reqs string
		code                   int
		want                   []string
	}{
		{"unresolvable", ref, `packages = ["alpha==9.9"]`, "", 1, []string{"pip could not resolve", "alpha==9.9"}},
		{"index down", ref, `packages = ["alpha"]` + "\nindex-url = \"http://127.0.0.1:9/simple\"", "", 1, []string{"could not be reached", "127.0.0.1:9"}},
		{"option line", ref, `requirements = "requirements.txt"`, "alpha\n--no-deps\n", 2, []string{"requirements.txt:2", "pip options are not allowed"}},
		{"the project itself", ref, `requirements = "requirements.txt"`, "alpha\n-e .\n", 2, []string{"requirements.txt:2", "the project's own package", "PYTHONPATH"}},
		{"local file", ref, `requirements = "requirements.txt"`, "./dist/alpha-1.0-py3-none-any.whl\n", 2, []string{"requirements.txt:1", "a local file cannot be locked"}},
		{"file url", ref, `packages = ["alpha @ file:///tmp/alpha.whl"]`, "", 2, []string{"pip.packages", "a local file cannot be locked"}},
		{"conflict with base", withUser, `packages = ["alpha==2.0"]`, "", 1, []string{"oldalpha-user 1.0 in the image requires alpha<2", "alpha 2.0"}},
		{"no python", noPython, `packages = ["alpha"]`, "", 1, []string{"has no python3 or python", "remove [pip]"}},
		{"no pip", noPip, `packages = ["alpha"]`, "", 1, []string{"but no pip"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := pipProject(t, tc.image, fmt.Sprintf("[pip]\nindex-url = %q\npackages = [\"beta\"]\n", idx.URL))
			if tc.image == ref {
				if r := mlenv(t, dir, "lock"); r.code != 0 {
					t.Fatalf("first lock: %s", r.stderr)
				}
			}
			before := readFileOr(filepath.Join(dir, "mlenv.lock"))
			body := "[pip]\n" + tc.pip + "\n"
			if !strings.Contains(tc.pip, "index-url") {
				body += fmt.Sprintf("index-url = %q\n", idx.URL)
			}
			writeFile(t, filepath.Join(dir, "mlenv.toml"), "[image]\nref = \""+tc.image+"\"\n"+body)
			if tc.reqs != "" {
				writeFile(t, filepath.Join(dir, "requirements.txt"), tc.reqs)
			}
			r := mlenv(t, dir, "lock")
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if after := readFileOr(filepath.Join(dir, "mlenv.lock")); after != before {
				t.Error("a failed lock changed mlenv.lock")
			}
		})
	}
}

func readFileOr(path string) string {
	b, _ := readFileBytes(path)
	return string(b)
}

// condaLike makes a python that lives in its own prefix, as conda's does:
// /opt/conda/bin/python with its own pip, not EXTERNALLY-MANAGED, first on
// PATH, and no pip left in the system python.
const condaLike = `import os, shutil, subprocess, sys
os.makedirs("/opt/conda/bin")
os.makedirs("/opt/conda/lib/python3/dist-packages")
shutil.copy2("/usr/bin/python3.11", "/opt/conda/bin/python3.11")
os.symlink("python3.11", "/opt/conda/bin/python3")
os.symlink("python3.11", "/opt/conda/bin/python")
shutil.copytree("/usr/lib/python3.11", "/opt/conda/lib/python3.11", symlinks=True)
os.remove("/opt/conda/lib/python3.11/EXTERNALLY-MANAGED")
subprocess.run(["python3", "-m", "pip", "install", "--quiet", "--no-deps", "--target", "/opt/conda/lib/python3/dist-packages", "--index-url", sys.argv[1], "pip"], check=True)
shutil.rmtree("/usr/lib/python3/dist-packages/pip")
`

func TestPipCondaLikeImage(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	idx.AddDebianWheels(t)
	local := enginetest.Derive(t, enginetest.PythonImage(t), "mlenv-test/condalike:1",
		[]string{"ENV PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		"python3", "-c", condaLike, idx.URL)
	ref := enginetest.Push(t, local, enginetest.Registry(t)+"/mlenv-test/condalike:1")
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"gamma\"]\nindex-url = %q\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock in a conda-like image: exit %d\n%s", r.code, r.stderr)
	}
	l := readLock(t, dir)
	if pk := packagesOf(l); len(pk) != 4 || pk["gamma"].Version != "0.5" || pk["delta"].Version != "1.0" {
		t.Errorf("packages = %+v", l.Packages)
	}
	if !hasDist(l.Base, "pip") {
		t.Errorf("[[base]] lacks conda's pip: %v", l.Base)
	}
}
