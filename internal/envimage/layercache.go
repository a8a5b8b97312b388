package envimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// layerCache remembers the digest and size of each package layer mlenv
// computed, by the wheel (its locked hashes, name and file) and the venv's
// layout: a lock that adds one package digests only that one. An entry
// is checked when read (its key and its own checksum: a damaged or
// misplaced entry is computed again) and whenever the layer's bytes are
// made (wheelLayer: a wrong digest is dropped, and the build that found
// it fails with a *WrongLayerError, which builds again without the
// cache).
type layerCache struct{ dir string }

// maxLayerEntry bounds an entry's file.
const maxLayerEntry = 4 << 10

type layerEntry struct {
	Key    string `json:"key"`
	DiffID string `json:"diff-id"`
	Size   int64  `json:"size"`
	Sum    string `json:"sum"`
}

func (e layerEntry) sum() string {
	return schema.DigestJSON(struct{ Format, Key, DiffID, Size any }{"mlenv-layer-entry v1", e.Key, e.DiffID, e.Size})
}

// layerKey names p's layer in the cache: everything its bytes are made of.
func layerKey(lay venvLayout, p lock.Package) string {
	return schema.DigestJSON(struct{ Format, Layout, Root, SitePackages, Name, Version, Hashes, URL any }{
		"mlenv-layer v1", lock.LayoutLayers, lay.root, lay.sitePackages, p.Name, p.Version, p.Hashes, p.URL})
}

// DefaultLayerCache is the user's cache of layer digests.
func DefaultLayerCache() (string, error) {
	dir, err := userdir.Cache("layers")
	if err != nil {
		return "", err
	}
	return userdir.Private(dir)
}

func (o Options) layerCache() layerCache {
	if o.LayerCache != "" {
		return layerCache{o.LayerCache}
	}
	dir, err := DefaultLayerCache()
	if err != nil {
		return layerCache{} // no cache: every layer is computed
	}
	return layerCache{dir}
}

func (c layerCache) path(key string) string {
	return filepath.Join(c.dir, key[len("sha256:"):]+".json")
}

// get is the entry for key, when there is a sound one; a use keeps it
// another while (cache prune).
func (c layerCache) get(key string) (v1.Hash, int64, bool) {
	if c.dir == "" {
		return v1.Hash{}, 0, false
	}
	f, err := os.Open(c.path(key))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLayerEntry+1))
	var e layerEntry
	if err != nil || len(b) > maxLayerEntry || json.Unmarshal(b, &e) != nil || e.Key != key || e.Sum != e.sum() || e.Size <= 0 {
		return v1.Hash{}, 0, false
	}
	d, err := v1.NewHash(e.DiffID)
	if err != nil {
		return v1.Hash{}, 0, false
	}
	now := time.Now()
	os.Chtimes(f.Name(), now, now)
	return d, e.Size, true
}

// put records a layer mlenv computed (best effort: without it the next
// lock computes the layer again).
func (c layerCache) put(key string, d v1.Hash, size int64) {
	if c.dir == "" {
		return
	}
	e := layerEntry{Key: key, DiffID: d.String(), Size: size}
	e.Sum = e.sum()
	if b, err := json.Marshal(e); err == nil {
		userdir.WriteFile(c.path(key), b)
	}
}

func (c layerCache) drop(key string) {
	if c.dir != "" {
		os.Remove(c.path(key))
	}
}

// WrongLayerError is a layer whose bytes, made again from its wheel, are
// not what the layer cache said: the entry is gone, and a build without
// the cache (Options.NoLayerCache) computes it again.
type WrongLayerError struct {
	File           string
	Cached, Actual v1.Hash
}

func (e *WrongLayerError) Error() string {
	return fmt.Sprintf("mlenv's layer cache said the layer of %s is %s, but its bytes are %s: mlenv removed the entry; build again (mlenv does, once) to compute it afresh", e.File, e.Cached, e.Actual)
}

// wheelLayer is a package's layer known by its cached digest: its bytes
// are made from the wheel as they are read, hashed on the way, and a
// digest or size that is not the cache's fails the read (WrongLayerError).
type wheelLayer struct {
	ctx       context.Context
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
	files     Files
	lay       venvLayout
	pkg       lock.Package
	cache     layerCache
	key       string
}

func (l *wheelLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *wheelLayer) DiffID() (v1.Hash, error)            { return l.digest, nil }
func (l *wheelLayer) Size() (int64, error)                { return l.size, nil }
func (l *wheelLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *wheelLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }

// Uncompressed makes the bytes on the first Read: a reader opened and
// closed unread (a blob the destination has) costs nothing.
func (l *wheelLayer) Uncompressed() (io.ReadCloser, error) { return &lazyReader{open: l.make}, nil }

func (l *wheelLayer) make() (io.ReadCloser, error) {
	t := tree{}
	f, err := installFile(l.ctx, t, l.files, l.lay, l.pkg)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(pw, h)}
		err := t.write(cw)
		if err == nil {
			got := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
			if got != l.digest || cw.n != l.size {
				l.cache.drop(l.key)
				err = &WrongLayerError{File: filepath.Base(l.pkg.URL), Cached: l.digest, Actual: got}
			}
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

type lazyReader struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	err  error
}

func (r *lazyReader) Read(p []byte) (int, error) {
	if r.rc == nil && r.err == nil {
		r.rc, r.err = r.open()
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.rc.Read(p)
}

func (r *lazyReader) Close() error {
	if r.rc == nil {
		r.err = io.ErrClosedPipe
		return nil
	}
	return r.rc.Close()
}

// memoryLayer is a small layer (the venv's skeleton) held in memory.
func memoryLayer(t tree, mt types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := t.write(&buf); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return &bytesLayer{b: b, mediaType: mt, digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}}, nil
}

type bytesLayer struct {
	b         []byte
	digest    v1.Hash
	mediaType types.MediaType
}

func (l *bytesLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *bytesLayer) DiffID() (v1.Hash, error)            { return l.digest, nil }
func (l *bytesLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l *bytesLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *bytesLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }
func (l *bytesLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}

// PruneLayerCache removes the layer cache's entries no build used for
// unused (0: every one), or with dryRun counts them.
func PruneLayerCache(unused time.Duration, dryRun bool) (int, error) {
	dir, err := DefaultLayerCache()
	if err != nil {
		return 0, err
	}
	entries, err := filepath.Glob(filepath.Join(dir, "*.json"))
	n := 0
	for _, e := range entries {
		if fi, err := os.Stat(e); err != nil || (unused > 0 && time.Since(fi.ModTime()) < unused) {
			continue
		}
		if !dryRun && os.Remove(e) != nil {
			continue
		}
		n++
	}
	return n, err
}
