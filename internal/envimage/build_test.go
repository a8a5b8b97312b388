package envimage

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/mlenv/mlenv/lock"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

// tinyWheel is a wheel with every part the installer handles: a module,
// a console entry point, a #!python script, data and headers.
func tinyWheel(t *testing.T) []byte {
	t.Helper()
	return zipWheel(t, "hello-1.0.dist-info", []zipEntry{
		{"hello/__init__.py", "def main():\n    print('hello')\n"},
		{"hello-1.0.data/scripts/hello-tool", "#!python\nimport hello\nhello.main()\n"},
		{"hello-1.0.data/data/share/hello/readme.txt", "data\n"},
		{"hello-1.0.data/headers/hello.h", "int hello(void);\n"},
		{"hello-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n"},
		{"hello-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{"hello-1.0.dist-info/entry_points.txt", "[console_scripts]\nhello = hello:main\n"},
	})
}

type zipEntry struct{ name, body string }

// zipWheel is a wheel of files, with a RECORD in distInfo that hashes
// every one.
func zipWheel(t *testing.T, distInfo string, files []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
		h := recordHash([]byte(f.body))
		fmt.Fprintf(&record, "%s,%s,%s\n", f.name, h[0], h[1])
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	w, _ := zw.Create(distInfo + "/RECORD")
	io.WriteString(w, record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tinyLock is a lock of the wheel on a small base image.
func tinyLock(t *testing.T, wheel []byte, dir string) (*lock.Lock, v1.Image) {
	t.Helper()
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		Config: v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}, Cmd: []string{"python3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := base.Digest()
	config, _ := base.ConfigName()
	if err := os.WriteFile(filepath.Join(dir, "hello-1.0-py3-none-any.whl"), wheel, 0o644); err != nil {
		t.Fatal(err)
	}
	l := &lock.Lock{
		Image: lock.Image{Repository: "registry.example/base", Digest: digest.String(),
			Platforms: []lock.Platform{{Platform: "linux/amd64", Digest: digest.String(), Config: config.String()}}},
		Versions: lock.Versions{Python: "3.11.2", PythonExecutable: "/usr/local/bin/python3"},
		Packages: []lock.Package{{Name: "hello", Version: "1.0", Index: "https://index.example/simple",
			Hashes: []string{fmt.Sprintf("sha256:%x", sha256.Sum256(wheel))}, URL: "https://index.example/files/hello-1.0-py3-none-any.whl"}},
	}
	return l, base
}

func build(t *testing.T, l *lock.Lock, base v1.Image, wheelhouse string) *Built {
	t.Helper()
	b, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: wheelhouse})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// listing is `tar tv` of the packages' layer, with contents of small
// text files the installer writes.
func listing(t *testing.T, b *Built) string {
	t.Helper()
	r, err := b.Layer().Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out strings.Builder
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%c %04o %d:%d %q %s %d %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname+h.Gname, h.ModTime.UTC().Format(time.RFC3339), h.Size, h.Name)
		if h.Linkname != "" {
			fmt.Fprintf(&out, " -> %s", h.Linkname)
		}
		out.WriteString("\n")
		if strings.HasSuffix(h.Name, "/RECORD") || strings.HasSuffix(h.Name, "bin/hello") || strings.HasSuffix(h.Name, "hello-tool") || strings.HasSuffix(h.Name, "pyvenv.cfg") {
			b, _ := io.ReadAll(tr)
			out.WriteString(indent(string(b)))
		}
	}
	return out.String()
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t") + "\n"
}

// TestGolden pins the bytes mlenv writes for a lock: a future mlenv must
// build the same digests from the same lock, or every recorded env digest
// breaks. Change it only with a new lock format.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	l, base := tinyLock(t, tinyWheel(t), dir)
	b := build(t, l, base, dir)
	got := fmt.Sprintf("env %s\nenv-config %s\nlayer %s\n\n%s", b.Digest, b.Config, mustDigest(t, b.Layer()), listing(t, b))
	checkGolden(t, "golden.txt", got, "the environment of the golden lock changed")
}

// checkGolden compares got with testdata/name (-update writes it).
func checkGolden(t *testing.T, name, got, what string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/envimage -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s: a lock written by an earlier mlenv would no longer verify\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

func mustDigest(t *testing.T, l v1.Layer) v1.Hash {
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSameEverywhere builds the lock twice from two copies of the wheel
// at two times: the same digests.
func TestSameEverywhere(t *testing.T) {
	wheel := tinyWheel(t)
	d1, d2 := t.TempDir(), t.TempDir()
	l, base := tinyLock(t, wheel, d1)
	tinyLock(t, wheel, d2)
	a := build(t, l, base, d1)
	time.Sleep(1100 * time.Millisecond)
	os.Chtimes(filepath.Join(d2, "hello-1.0-py3-none-any.whl"), time.Now(), time.Now())
	b := build(t, l, base, d2)
	if a.Digest != b.Digest || a.Config != b.Config {
		t.Errorf("two builds differ: %s/%s and %s/%s", a.Digest, a.Config, b.Digest, b.Config)
	}
}

// TestInstallsAsPip checks what a user of the venv relies on.
func TestInstallsAsPip(t *testing.T) {
	dir := t.TempDir()
	l, base := tinyLock(t, tinyWheel(t), dir)
	b := build(t, l, base, dir)
	ls := listing(t, b)
	sp := "opt/mlenv/venv/lib/python3.11/site-packages/"
	for _, want := range []string{
		"2 0777 0:0 \"\" 1980-01-01T00:00:00Z 0 opt/mlenv/venv/bin/python -> /usr/local/bin/python3",
		" opt/mlenv/venv/bin/hello\n\t#!/opt/mlenv/venv/bin/python\n",
		" opt/mlenv/venv/bin/hello-tool\n\t#!/opt/mlenv/venv/bin/python\n\timport hello",
		"0 0755 ", sp + "hello/__init__.py",
		"opt/mlenv/venv/share/hello/readme.txt",
		"opt/mlenv/venv/include/site/python3.11/hello/hello.h",
		sp + "hello-1.0.dist-info/INSTALLER",
		"\t../../../bin/hello,sha256=",
		"\thello-1.0.dist-info/RECORD,,\n",
		"include-system-site-packages = true",
	} {
		if !strings.Contains(ls, want) {
			t.Errorf("the layer lacks %q:\n%s", want, ls)
		}
	}
	cfg, err := b.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cfg.Config.Env, " ")
	if !strings.Contains(env, "PATH=/opt/mlenv/venv/bin:/usr/local/bin:/usr/bin:/bin") || !strings.Contains(env, "VIRTUAL_ENV=/opt/mlenv/venv") {
		t.Errorf("env %v", cfg.Config.Env)
	}
	if !cfg.Created.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) || cfg.Config.Labels[LabelEnv] == "" {
		t.Errorf("created %v labels %v", cfg.Created, cfg.Config.Labels)
	}
}

// TestRefusesUnsafeWheel: a wheel cannot write outside the venv.
func TestRefusesUnsafeWheel(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"evil-1.0.dist-info/WHEEL", "../../etc/passwd"} {
		w, _ := zw.Create(n)
		io.WriteString(w, "x")
	}
	zw.Close()
	dir := t.TempDir()
	l, base := tinyLock(t, buf.Bytes(), dir)
	_, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: dir})
	if err == nil || !strings.Contains(err.Error(), "unsafe path") {
		t.Fatalf("err = %v, want unsafe path", err)
	}
}

// TestDigestOnly: what mlenv lock records without writing the layer is
// what a build writes.
func TestDigestOnly(t *testing.T) {
	dir := t.TempDir()
	l, base := tinyLock(t, tinyWheel(t), dir)
	full := build(t, l, base, dir)
	d, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: dir, DigestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != full.Digest || d.Config != full.Config {
		t.Errorf("digest only %s/%s, built %s/%s", d.Digest, d.Config, full.Digest, full.Config)
	}
	if _, err := d.Layer().Uncompressed(); err == nil {
		t.Error("a digest-only layer can be read")
	}
}
