// Package pypitest serves a PEP 503 simple package index on a loopback
// port from wheels the tests build (and Debian's real wheels), for pip
// running in containers on the host's network.
package pypitest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Wheel describes a pure-python wheel to build.
type Wheel struct {
	Name     string
	Version  string
	Requires []string // Requires-Dist lines
	// Tag is the wheel's compatibility tag; default py3-none-any.
	Tag string
	// Files are more files in the wheel (paths as in the zip: a module's
	// files, NAME-VERSION.data/scripts/…, .data/data/…), stored as they
	// are; Scripts are console_scripts entry points (name → module:func).
	Files   []File
	Scripts map[string]string
}

// File is one more file of a wheel.
type File struct {
	Name string
	Data []byte
}

// Filename is the wheel's file name.
func (w Wheel) Filename() string {
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	return fmt.Sprintf("%s-%s-%s.whl", strings.ReplaceAll(w.Name, "-", "_"), w.Version, tag)
}

// Build returns the wheel's bytes: a zip with a module, METADATA, WHEEL and
// RECORD, with fixed timestamps so the same wheel has the same hash.
func (w Wheel) Build() []byte {
	mod := strings.ReplaceAll(strings.ToLower(w.Name), "-", "_")
	distInfo := fmt.Sprintf("%s-%s.dist-info", strings.ReplaceAll(w.Name, "-", "_"), w.Version)
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	meta := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Name, w.Version)
	for _, r := range w.Requires {
		meta += "Requires-Dist: " + r + "\n"
	}
	files := []File{
		{mod + "/__init__.py", fmt.Appendf(nil, "__version__ = %q\n", w.Version)},
		{distInfo + "/METADATA", []byte(meta)},
		{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: mlenv-pypitest\nRoot-Is-Purelib: true\nTag: " + tag + "\n")},
	}
	files = append(files, w.Files...)
	if len(w.Scripts) > 0 {
		ep := "[console_scripts]\n"
		for _, n := range slices.Sorted(maps.Keys(w.Scripts)) {
			ep += n + " = " + w.Scripts[n] + "\n"
		}
		files = append(files, File{distInfo + "/entry_points.txt", []byte(ep)})
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Data))
	}
	record.WriteString(distInfo + "/RECORD,,\n")
	files = append(files, File{distInfo + "/RECORD", []byte(record.String())})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		method := zip.Deflate
		if len(f.Data) > 1<<20 {
			method = zip.Store // large binary-like files, as native libraries are in real wheels
		}
		h := &zip.FileHeader{Name: f.Name, Method: method, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		if strings.Contains(f.Name, ".data/scripts/") {
			h.SetMode(0o755)
		}
		fw, _ := zw.CreateHeader(h)
		fw.Write(f.Data)
	}
	zw.Close()
	return buf.Bytes()
}

// Index is a running simple index.
type Index struct {
	URL string // http://127.0.0.1:port/simple
	// NoHashes drops the #sha256= fragments from links, as some indexes do.
	NoHashes bool
	// Metadata serves each wheel's METADATA beside it (PEP 658 and 714, as
	// PyPI does), so pip resolves without downloading the wheels.
	Metadata bool
	// User and Password, when set, are required of every request (HTTP
	// basic authentication, as private indexes ask); others get 401.
	User, Password string

	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte   // filename → content
	byPkg map[string][]string // normalized name → filenames
	hits  map[string]int      // filename → downloads
	yanks map[string]string   // filename → why it was yanked (PEP 592)

	refused int // requests without the right credentials
}

var separators = regexp.MustCompile(`[-_.]+`)

func normalize(n string) string { return strings.ToLower(separators.ReplaceAllString(n, "-")) }

// New serves the given wheels on all interfaces' loopback (127.0.0.1).
func New(t testing.TB, wheels ...Wheel) *Index {
	t.Helper()
	idx := &Index{files: map[string][]byte{}, byPkg: map[string][]string{}, hits: map[string]int{}, yanks: map[string]string{}}
	for _, w := range wheels {
		idx.Add(w.Filename(), w.Build())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: idx}}
	srv.Start()
	t.Cleanup(srv.Close)
	idx.srv = srv
	idx.URL = srv.URL + "/simple"
	return idx
}

// wheelMetadata is a wheel's .dist-info/METADATA (nil: none).
func wheelMetadata(wheel []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(wheel), int64(len(wheel)))
	if err != nil {
		return nil
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".dist-info/METADATA") && strings.Count(f.Name, "/") == 1 {
			r, err := f.Open()
			if err != nil {
				return nil
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			if err != nil {
				return nil
			}
			return b
		}
	}
	return nil
}

// Close stops serving (an index that is down).
func (x *Index) Close() { x.srv.Close() }

// Add serves a file under the project its name starts with, replacing a
// file of the same name (as a compromised or careless index might).
func (x *Index) Add(filename string, content []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	name := normalize(strings.SplitN(filename, "-", 2)[0])
	if _, replacing := x.files[filename]; !replacing {
		x.byPkg[name] = append(x.byPkg[name], filename)
		sort.Strings(x.byPkg[name])
	}
	x.files[filename] = content
}

// Remove stops serving a file: its link and the file are gone (as when a
// maintainer deletes a release).
func (x *Index) Remove(filename string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	name := normalize(strings.SplitN(filename, "-", 2)[0])
	delete(x.files, filename)
	x.byPkg[name] = slices.DeleteFunc(x.byPkg[name], func(f string) bool { return f == filename })
}

// Yank marks a file yanked with a reason (PEP 592): still served, its
// link carries data-yanked.
func (x *Index) Yank(filename, reason string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.yanks[filename] = reason
}

// AddDebianWheels serves Debian's real wheels (pip, setuptools, wheel)
// from /usr/share/python-wheels; it fails the test where they are missing.
func (x *Index) AddDebianWheels(t testing.TB) []string {
	t.Helper()
	paths, _ := filepath.Glob("/usr/share/python-wheels/*.whl")
	if len(paths) == 0 {
		t.Fatal("no wheels in /usr/share/python-wheels: apt-get install python3-pip-whl python3-setuptools-whl python3-wheel-whl")
	}
	var names []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		x.Add(filepath.Base(p), b)
		names = append(names, filepath.Base(p))
	}
	return names
}

// Downloads is how often each file was downloaded.
func (x *Index) Downloads() map[string]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]int{}
	for k, v := range x.hits {
		out[k] = v
	}
	return out
}

// Refused is how many requests came without the right credentials.
func (x *Index) Refused() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.refused
}

// SHA256 is the hex digest of a served file.
func (x *Index) SHA256(filename string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return fmt.Sprintf("%x", sha256.Sum256(x.files[filename]))
}

func (x *Index) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if user, pw, _ := r.BasicAuth(); x.User != "" && (user != x.User || pw != x.Password) {
		x.refused++
		w.Header().Set("WWW-Authenticate", `Basic realm="pypitest"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == "/simple/" || r.URL.Path == "/simple":
		fmt.Fprint(w, "<!DOCTYPE html><html><body>\n")
		for _, n := range slices.Sorted(maps.Keys(x.byPkg)) {
			fmt.Fprintf(w, "<a href=\"/simple/%s/\">%s</a>\n", n, n)
		}
		fmt.Fprint(w, "</body></html>\n")
	case strings.HasPrefix(r.URL.Path, "/simple/"):
		name := normalize(strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/"))
		files, ok := x.byPkg[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<!DOCTYPE html><html><body><h1>Links for %s</h1>\n", name)
		for _, f := range files {
			frag := ""
			if !x.NoHashes {
				frag = fmt.Sprintf("#sha256=%x", sha256.Sum256(x.files[f]))
			}
			yanked := ""
			if reason, ok := x.yanks[f]; ok {
				yanked = fmt.Sprintf(" data-yanked=\"%s\"", html.EscapeString(reason))
			}
			if meta := wheelMetadata(x.files[f]); x.Metadata && meta != nil {
				yanked += fmt.Sprintf(" data-dist-info-metadata=\"sha256=%x\" data-core-metadata=\"sha256=%x\"", sha256.Sum256(meta), sha256.Sum256(meta))
			}
			fmt.Fprintf(w, "<a href=\"/files/%s%s\"%s>%s</a><br/>\n", f, frag, yanked, f)
		}
		fmt.Fprint(w, "</body></html>\n")
	case x.Metadata && strings.HasPrefix(r.URL.Path, "/files/") && strings.HasSuffix(r.URL.Path, ".whl.metadata"):
		meta := wheelMetadata(x.files[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/files/"), ".metadata")])
		if meta == nil {
			http.NotFound(w, r)
			return
		}
		w.Write(meta)
	case strings.HasPrefix(r.URL.Path, "/files/"):
		f := strings.TrimPrefix(r.URL.Path, "/files/")
		b, ok := x.files[f]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodGet {
			x.hits[f]++
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=365000000, immutable, public") // as PyPI's files
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// Sdist describes a source distribution (setuptools, one module) that
// pip must build: pip fetches setuptools and wheel for its build from the
// index (AddDebianWheels).
type Sdist struct {
	Name, Version string
	// BuildRequires, when set, is its pyproject.toml's [build-system]
	// requires (setuptools.build_meta); without it, a setup.py project.
	BuildRequires []string
}

// Filename is the sdist's file name.
func (s Sdist) Filename() string { return fmt.Sprintf("%s-%s.tar.gz", s.Name, s.Version) }

// Build returns the sdist's bytes, the same every time.
func (s Sdist) Build() []byte {
	root := fmt.Sprintf("%s-%s/", s.Name, s.Version)
	mod := strings.ReplaceAll(strings.ToLower(s.Name), "-", "_")
	files := []File{
		{root + "PKG-INFO", fmt.Appendf(nil, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Name, s.Version)},
	}
	if len(s.BuildRequires) > 0 {
		quoted := make([]string, len(s.BuildRequires))
		for i, r := range s.BuildRequires {
			quoted[i] = fmt.Sprintf("%q", r)
		}
		files = append(files, File{root + "pyproject.toml", fmt.Appendf(nil, "[build-system]\nrequires = [%s]\nbuild-backend = \"setuptools.build_meta\"\n", strings.Join(quoted, ", "))})
	}
	files = append(files, []File{
		{root + "setup.py", fmt.Appendf(nil, "from setuptools import setup\nsetup(name=%q, version=%q, py_modules=[%q])\n", s.Name, s.Version, mod)},
		{root + mod + ".py", fmt.Appendf(nil, "__version__ = %q\n", s.Version)},
	}...)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)), ModTime: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
		tw.Write(f.Data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
