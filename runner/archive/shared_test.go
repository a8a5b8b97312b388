package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// TestPlatformsShareLayers: a pure-python wheel is one layer in every
// platform's environment, and the archive stores it once.
func TestPlatformsShareLayers(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, ImageDir), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	l := &lock.Lock{Image: lock.Image{Repository: "registry.example/base", EnvLayout: lock.LayoutLayers},
		Versions: lock.Versions{Python: "3.11.2", PythonExecutable: "/usr/bin/python3"}}
	for _, arch := range []string{"amd64", "arm64"} {
		base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: arch, OS: "linux", Config: v1.Config{Cmd: []string{"python3"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(base); err != nil {
			t.Fatal(err)
		}
		d, _ := base.Digest()
		c, _ := base.ConfigName()
		l.Image.Platforms = append(l.Image.Platforms, lock.Platform{Platform: "linux/" + arch, Digest: d.String(), Config: c.String()})
		l.Image.Digest = d.String()
	}
	w := pypitest.Wheel{Name: "weights", Version: "1.0", Files: []pypitest.File{{Name: "weights/w.bin", Data: bytes.Repeat([]byte("w"), 1<<20)}}}
	wheels := filepath.Join(dir, WheelsDir)
	os.MkdirAll(wheels, 0o755)
	if err := os.WriteFile(filepath.Join(wheels, w.Filename()), w.Build(), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Packages = []lock.Package{{Name: "weights", Version: "1.0", Index: "https://index.example/simple",
		Hashes: []string{fmt.Sprintf("sha256:%x", sha256.Sum256(w.Build()))}, URL: "https://index.example/files/" + w.Filename()}}
	if err := writeEnvs(context.Background(), l, dir, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	layers := map[v1.Hash]int{}
	envs := 0
	for _, d := range m.Manifests {
		if d.Annotations[AnnotationKind] != "env" {
			continue
		}
		envs++
		img, _ := p.Image(d.Digest)
		ls, _ := img.Layers()
		for _, layer := range ls {
			h, _ := layer.Digest()
			layers[h]++
		}
	}
	if envs != 2 || len(layers) != 2 {
		t.Fatalf("%d environments with %d distinct layers, want 2 sharing the venv's and the wheel's", envs, len(layers))
	}
	var stored int64
	blobs, _ := filepath.Glob(filepath.Join(dir, ImageDir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		fi, _ := os.Stat(b)
		stored += fi.Size()
	}
	if stored > 1<<20+256<<10 {
		t.Errorf("the archive stores %d bytes of blobs for two platforms sharing a 1 MiB layer: not once", stored)
	}
}
