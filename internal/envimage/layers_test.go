package envimage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlenv/mlenv/lock"
)

// wheelOf is a wheel of name with a module of payload bytes and a console
// script; its RECORD hashes every file.
func wheelOf(t *testing.T, name, version string, payload int) []byte {
	t.Helper()
	di := name + "-" + version + ".dist-info"
	return zipWheel(t, di, []zipEntry{
		{name + "/__init__.py", "def main():\n    print('" + name + "')\n"},
		{name + "/data.bin", strings.Repeat(name[:1], payload)},
		{di + "/METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"},
		{di + "/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{di + "/entry_points.txt", "[console_scripts]\n" + name + " = " + name + ":main\n"},
	})
}

// layeredLock locks the wheels (name → payload size) in the layers
// layout on tinyLock's base; the wheels go into dir.
func layeredLock(t *testing.T, dir string, sizes map[string]int) (*lock.Lock, v1.Image) {
	t.Helper()
	l, base := tinyLock(t, tinyWheel(t), dir)
	l.Image.EnvLayout = lock.LayoutLayers
	l.Packages = nil
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range sizes {
			if !yield(n) {
				return
			}
		}
	}) {
		w := wheelOf(t, name, "1.0", sizes[name])
		file := name + "-1.0-py3-none-any.whl"
		if err := os.WriteFile(filepath.Join(dir, file), w, 0o644); err != nil {
			t.Fatal(err)
		}
		l.Packages = append(l.Packages, lock.Package{Name: name, Version: "1.0", Index: "https://index.example/simple",
			Hashes: []string{fmt.Sprintf("sha256:%x", sha256.Sum256(w))}, URL: "https://index.example/files/" + file})
	}
	return l, base
}

func buildWith(t *testing.T, l *lock.Lock, base v1.Image, o Options) *Built {
	t.Helper()
	b, err := Build(context.Background(), l, "linux/amd64", base, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func diffIDs(t *testing.T, b *Built) []string {
	t.Helper()
	var out []string
	for _, l := range b.EnvLayers() {
		out = append(out, mustDigest(t, l).String())
	}
	return out
}

func readers(t *testing.T, layers []v1.Layer) []io.Reader {
	t.Helper()
	var out []io.Reader
	for _, l := range layers {
		r, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		out = append(out, r)
	}
	return out
}

// TestLayersLayout: the skeleton, then one layer per wheel, the largest
// lowest; applied in order they are exactly the one-layer venv.
func TestLayersLayout(t *testing.T) {
	dir := t.TempDir()
	l, base := layeredLock(t, dir, map[string]int{"small": 10, "huge": 300_000, "mid": 20_000})
	b := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: t.TempDir()})
	cfg, err := b.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, h := range cfg.History {
		order = append(order, h.CreatedBy)
	}
	want := []string{"mlenv: the venv /opt/mlenv/venv (python 3.11.2)", "mlenv: huge 1.0 (huge-1.0-py3-none-any.whl)", "mlenv: mid 1.0 (mid-1.0-py3-none-any.whl)", "mlenv: small 1.0 (small-1.0-py3-none-any.whl)"}
	if !slices.Equal(order, want) || len(b.EnvLayers()) != 4 {
		t.Fatalf("layers %q, want %q", order, want)
	}
	one := *l
	one.Image.EnvLayout = lock.LayoutOneLayer
	single := buildWith(t, &one, base, Options{Wheelhouse: dir})
	diff, err := DiffLayers(readers(t, b.EnvLayers()), readers(t, []v1.Layer{single.Layer()}), 0)
	if err != nil || len(diff) > 0 {
		t.Fatalf("the layers are not the one-layer venv: %v %q", err, diff)
	}
	if single.Digest == b.Digest {
		t.Error("both layouts have one digest")
	}
}

// TestLayerIsItsWheelAlone: adding a small package leaves every layer
// below it as it was, and a wheel's layer is the same in any lock.
func TestLayerIsItsWheelAlone(t *testing.T) {
	dir := t.TempDir()
	cache := t.TempDir()
	l, base := layeredLock(t, dir, map[string]int{"huge": 300_000, "mid": 20_000})
	before := diffIDs(t, buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: cache}))
	l2, _ := layeredLock(t, dir, map[string]int{"huge": 300_000, "mid": 20_000, "tiny": 5})
	after := diffIDs(t, buildWith(t, l2, base, Options{Wheelhouse: dir, LayerCache: t.TempDir()}))
	if len(after) != 4 || !slices.Equal(after[:3], before) {
		t.Errorf("adding a small package changed the layers below it:\n%q\n%q", before, after)
	}
}

// TestLayerBudget: past the budget the smallest packages share the top
// layer, and the stack is still the whole venv.
func TestLayerBudget(t *testing.T) {
	dir := t.TempDir()
	l, base := layeredLock(t, dir, map[string]int{"a": 1, "b": 2, "c": 3, "big": 90_000, "bigger": 100_000})
	b := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: t.TempDir(), LayerBudget: 4}) // base has 0 layers: skeleton + 3
	cfg, _ := b.ConfigFile()
	if len(b.EnvLayers()) != 4 || cfg.History[3].CreatedBy != "mlenv: 3 small packages (a, b, c)" {
		t.Fatalf("%d layers, top %q", len(b.EnvLayers()), cfg.History[len(cfg.History)-1].CreatedBy)
	}
	one := *l
	one.Image.EnvLayout = lock.LayoutOneLayer
	single := buildWith(t, &one, base, Options{Wheelhouse: dir})
	if diff, err := DiffLayers(readers(t, b.EnvLayers()), readers(t, []v1.Layer{single.Layer()}), 0); err != nil || len(diff) > 0 {
		t.Fatalf("grouped layers differ from the venv: %v %q", err, diff)
	}
	if got := PlanLayers(map[string]int64{"x": 5, "y": 5, "z": 9}, 3); fmt.Sprint(got) != "[[z] [x] [y]]" {
		t.Errorf("plan %v: the largest lowest, ties by name", got)
	}
}

// TestLayerCacheSkipsTheWheels: a lock whose layers mlenv computed before
// is digested without reading a wheel; a damaged entry is computed again;
// an entry with a wrong digest is found when the layer is made.
func TestLayerCacheSkipsTheWheels(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	l, base := layeredLock(t, dir, map[string]int{"huge": 300_000, "mid": 20_000})
	first := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: cache, DigestOnly: true})
	empty := t.TempDir()
	again := buildWith(t, l, base, Options{Wheelhouse: empty, LayerCache: cache, DigestOnly: true})
	if again.Digest != first.Digest {
		t.Fatalf("from the cache %s, computed %s", again.Digest, first.Digest)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "*.json"))
	if len(entries) != 2 {
		t.Fatalf("%d cache entries, want 2", len(entries))
	}
	// Damaged: not trusted, so the wheel is needed again.
	os.WriteFile(entries[0], []byte(`{"key":"x"}`), 0o600)
	if _, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: empty, LayerCache: cache, DigestOnly: true}); err == nil {
		t.Fatal("a damaged entry was used")
	}
	if b := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: cache, DigestOnly: true}); b.Digest != first.Digest {
		t.Fatal("recomputing the damaged entry gave another digest")
	}
	// Sound-looking but wrong: making the layer's bytes finds it.
	for _, e := range entries {
		var ent layerEntry
		b, _ := os.ReadFile(e)
		json.Unmarshal(b, &ent)
		ent.DiffID = "sha256:" + strings.Repeat("0", 64)
		ent.Sum = ent.sum()
		b, _ = json.Marshal(ent)
		os.WriteFile(e, b, 0o600)
	}
	forged := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: cache})
	r, err := forged.EnvLayers()[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	var wrong *WrongLayerError
	if !errors.As(err, &wrong) {
		t.Fatalf("reading a layer with a wrong cached digest: %v", err)
	}
	fresh := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: cache, NoLayerCache: true})
	if fresh.Digest != first.Digest {
		t.Fatal("a build without the cache is not the first one")
	}
	if b := buildWith(t, l, base, Options{Wheelhouse: empty, LayerCache: cache, DigestOnly: true}); b.Digest != first.Digest {
		t.Fatal("the recomputed entries are not used")
	}
}

// TestGoldenLayers pins the layers layout's bytes as TestGolden pins the
// one-layer layout's.
func TestGoldenLayers(t *testing.T) {
	dir := t.TempDir()
	l, base := tinyLock(t, tinyWheel(t), dir)
	l.Image.EnvLayout = lock.LayoutLayers
	b := buildWith(t, l, base, Options{Wheelhouse: dir, LayerCache: t.TempDir()})
	got := fmt.Sprintf("env %s\nenv-config %s\nlayers %q\n", b.Digest, b.Config, diffIDs(t, b))
	checkGolden(t, "golden-layers.txt", got, "the layers layout's digests changed")
}
