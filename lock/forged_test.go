package lock

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/mlenv/mlenv/schema"
)

// smuggle is what a forged field carries: a line break that would start
// pip options and another package in a requirements file.
const smuggle = "\n--find-links http://127.0.0.1:9/\nevilpkg==1.0 --hash=sha256:" + "00"

func validLock() *Lock {
	d := "sha256:" + strings.Repeat("a", 64)
	return &Lock{
		Version: FormatVersion, Generator: "mlenv 0.1.0", InputHash: d,
		Image: Image{Reference: "pytorch/pytorch", Repository: "index.docker.io/pytorch/pytorch", Tag: "2.1.2-runtime",
			Digest: d, MediaType: "application/vnd.oci.image.index.v1+json", Family: "pytorch",
			Platforms: []Platform{{Platform: "linux/amd64", Digest: d, Config: d}}},
		Versions: Versions{Framework: "pytorch", FrameworkVersion: "2.1.2", CUDA: "12.1", Python: "3.10.13",
			Sources: map[string]string{"cuda": "tag"}},
		Base: []Dist{{Name: "numpy", Version: "1.26.4"}},
		Packages: []Package{{Name: "six", Version: "1.16.0", Requested: true, Index: "https://pypi.org/simple",
			Hashes: []string{d}, URL: "https://files.example/six-1.16.0-py2.py3-none-any.whl", Replaces: "1.15.0"}},
		Run: schema.Run{Workdir: "/src", PipCache: "mlenv-pip-cache", Env: map[string]string{"A": "1"}},
	}
}

// forge encodes l as a forger would: every part's integrity digest
// recomputed (it is unkeyed), nothing else checked.
func forge(t *testing.T, l *Lock) []byte {
	t.Helper()
	c := canonical(l)
	c.Integrity = computeIntegrity(c)
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestForgedLocksAreRefused(t *testing.T) {
	if _, err := Unmarshal("mlenv.lock", forge(t, validLock())); err != nil {
		t.Fatalf("the valid lock is refused: %v", err)
	}
	fields := map[string]func(l *Lock){
		"image.reference":                func(l *Lock) { l.Image.Reference += smuggle },
		"image.repository":               func(l *Lock) { l.Image.Repository += smuggle },
		"image.tag":                      func(l *Lock) { l.Image.Tag += smuggle },
		"image.media-type":               func(l *Lock) { l.Image.MediaType += smuggle },
		"image.family":                   func(l *Lock) { l.Image.Family += smuggle },
		"image.platform":                 func(l *Lock) { l.Image.Platforms[0].Platform += smuggle },
		"require-cuda":                   func(l *Lock) { l.Image.Platforms[0].RequireCUDA = "cuda>=12.4" + smuggle },
		"cuda-archs":                     func(l *Lock) { l.Versions.CUDAArchs = []string{"sm_90" + smuggle} },
		"versions.cuda":                  func(l *Lock) { l.Versions.CUDA += smuggle },
		"versions.sources":               func(l *Lock) { l.Versions.Sources["cuda"] += smuggle },
		"base.name":                      func(l *Lock) { l.Base[0].Name += smuggle },
		"base.version":                   func(l *Lock) { l.Base[0].Version += smuggle },
		"package.name":                   func(l *Lock) { l.Packages[0].Name += smuggle },
		"package.version":                func(l *Lock) { l.Packages[0].Version += smuggle },
		"package.index":                  func(l *Lock) { l.Packages[0].Index += smuggle },
		"package.url":                    func(l *Lock) { l.Packages[0].URL += smuggle },
		"package.hashes":                 func(l *Lock) { l.Packages[0].Hashes[0] += smuggle },
		"package.replaces":               func(l *Lock) { l.Packages[0].Replaces += smuggle },
		"package.platform":               func(l *Lock) { l.Packages[0].Platforms = []string{"linux/amd64" + smuggle} },
		"package.index with credentials": func(l *Lock) { l.Packages[0].Index = "https://user:secret@pypi.org/simple" },
		"package.index with a space":     func(l *Lock) { l.Packages[0].Index = "https://pypi.org/simple --find-links=http://127.0.0.1:9/" },
		"run.workdir":                    func(l *Lock) { l.Run.Workdir += smuggle },
		"run.env name":                   func(l *Lock) { l.Run.Env["A"+smuggle] = "1" },
		"run.user":                       func(l *Lock) { l.Run.User += smuggle },
		"run.pip-cache":                  func(l *Lock) { l.Run.PipCache += smuggle },
		"run.mounts":                     func(l *Lock) { l.Run.Mounts = []string{"./data:/data" + smuggle} },
	}
	for field, poison := range fields {
		l := validLock()
		poison(l)
		_, err := Unmarshal("mlenv.lock", forge(t, l))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: a forged lock is accepted (err %v)", field, err)
			continue
		}
		if strings.Contains(err.Error(), "\n--find-links") {
			t.Errorf("%s: the error prints the smuggled line raw: %v", field, err)
		}
		if _, err := Marshal(l); err == nil {
			t.Errorf("%s: Marshal writes the forged lock", field)
		}
		if _, err := Requirements(l.Packages); strings.HasPrefix(field, "package.") && err == nil {
			t.Errorf("%s: Requirements encodes the forged package", field)
		}
	}
}

func TestDiffShowsIndexAndURLChanges(t *testing.T) {
	a, b := validLock(), validLock()
	b.Packages[0].Index = "http://127.0.0.1:9/simple"
	b.Packages[0].URL = "http://127.0.0.1:9/six-1.16.0-py2.py3-none-any.whl"
	d := Compare(a, b)
	if d.Empty() {
		t.Fatal("a moved index is no difference")
	}
	out := d.Format()
	for _, want := range []string{"index: https://pypi.org/simple → http://127.0.0.1:9/simple", "url: https://files.example/"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
}
