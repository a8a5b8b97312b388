package envimage

import (
	"archive/tar"
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/internal/progress"
)

// ModTime is every entry's modification time in an environment layer: one
// fixed time, so the layer is the same whenever it is built.
var ModTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// entry is one file, directory or symlink of a layer; its content comes
// from open when the layer is written.
type entry struct {
	name     string // relative to /, no trailing slash
	typ      byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode     int64
	linkname string
	size     int64
	open     func() (io.ReadCloser, error)
}

// tree is a layer's entries by path; adding a path again replaces it, as
// installing a file over another does.
type tree map[string]*entry

func (t tree) dir(name string) {
	name = strings.Trim(name, "/")
	for d := name; d != "." && d != ""; d = path.Dir(d) {
		if e, ok := t[d]; ok && e.typ == tar.TypeDir {
			return
		}
		t[d] = &entry{name: d, typ: tar.TypeDir, mode: 0o755}
	}
}

func (t tree) add(e *entry) {
	e.name = strings.Trim(e.name, "/")
	t.dir(path.Dir(e.name))
	t[e.name] = e
}

func (t tree) bytes(name string, mode int64, b []byte) {
	t.add(&entry{name: name, typ: tar.TypeReg, mode: mode, size: int64(len(b)),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
}

func (t tree) symlink(name, target string) {
	t.add(&entry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: target})
}

// size is about the bytes of the tree's tar: its files, a header and
// padding each (PAX records can make it a little more).
func (t tree) size() int64 {
	n := int64(1024)
	for _, e := range t {
		n += 1024 + e.size
	}
	return n
}

// write writes the tree as a normalized tar: entries in byte order of
// their paths, one modification time, owner 0:0 with no user or group
// names, permission bits only, no extended attributes, PAX format.
func (t tree) write(w io.Writer) error {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(a, b) })
	tw := tar.NewWriter(w)
	for _, n := range names {
		e := t[n]
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode & 0o777, ModTime: ModTime, Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeSymlink:
			h.Linkname = e.linkname
		case tar.TypeReg:
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if err := copyEntry(tw, e); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyEntry(w io.Writer, e *entry) error {
	r, err := e.open()
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	defer r.Close()
	n, err := io.Copy(w, r)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if n != e.size {
		return fmt.Errorf("%s: wrote %d bytes, expected %d", e.name, n, e.size)
	}
	return nil
}

// fileLayer is an uncompressed layer in a file: its digest and its diff ID
// are the same, so the manifest's digest does not depend on any
// compressor.
type fileLayer struct {
	path      string
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

// writeLayer writes t to a new temporary file and returns it as a layer;
// with digestOnly it only digests t (the layer cannot be read back).
func writeLayer(t tree, mt types.MediaType, digestOnly bool, ph *progress.Phase) (*fileLayer, error) {
	h := sha256.New()
	if digestOnly {
		cw := &countWriter{w: ph.Writer(h)}
		if err := t.write(cw); err != nil {
			return nil, fmt.Errorf("digest the environment layer: %w", err)
		}
		return &fileLayer{size: cw.n, mediaType: mt, digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}}, nil
	}
	f, err := leftover.CreateTemp("", "mlenv-layer-*.tar")
	if err != nil {
		return nil, err
	}
	cw := &countWriter{w: ph.Writer(io.MultiWriter(f, h))}
	err = t.write(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("write the environment layer: %w", err)
	}
	return &fileLayer{path: f.Name(), size: cw.n, mediaType: mt,
		digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	if l.path == "" {
		return nil, errors.New("the environment layer was only digested (Options.DigestOnly): build it to read it")
	}
	return os.Open(l.path)
}
