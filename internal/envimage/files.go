package envimage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/lock"
)

// Files finds the locked files: in a wheelhouse, in the download cache,
// or downloaded into it (each checked against its locked hashes).
type Files struct {
	Client     *http.Client
	Cache      string
	Wheelhouse string
	// Warn, when set, is told of a cached copy that did not match its
	// locked hash (removed, and fetched again).
	Warn func(string)
	// Progress counts the bytes downloaded (nil: none).
	Progress *progress.Phase
}

// Path is the local path of p's locked file.
func (f Files) Path(ctx context.Context, p lock.Package) (string, error) {
	if f.Wheelhouse != "" {
		return Fetch(ctx, nil, p, f.Wheelhouse, nil)
	}
	cache := f.Cache
	if cache == "" {
		var err error
		if cache, err = DefaultCache(); err != nil {
			return "", err
		}
	}
	if len(p.Hashes) == 0 {
		return Fetch(ctx, f.client(), p, cache, f.Progress)
	}
	// One directory per locked hash: two indexes may serve files of one
	// name with other contents.
	dir := filepath.Join(cache, filepath.FromSlash(lockedHashDir(p.Hashes[0])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	evicted := f.evictBad(p, dir)
	file, err := Fetch(ctx, f.client(), p, dir, f.Progress)
	if he := (*HashError)(nil); evicted && errors.As(err, &he) {
		again := *he
		again.Evicted = true
		return "", fmt.Errorf("%s %s: %w", p.Name, p.Version, &again)
	}
	if err == nil && evicted && f.Warn != nil {
		f.Warn(fmt.Sprintf("mlenv's download cache (%s) held a copy of %s that does not match mlenv.lock: mlenv removed it and fetched the file again", cache, path.Base(p.URL)))
	}
	return file, err
}

// evictBad removes a cached copy of p's file that fails its locked hash.
func (f Files) evictBad(p lock.Package, dir string) bool {
	if p.URL == "" {
		return false
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return false
	}
	file := filepath.Join(dir, path.Base(u.Path))
	if ok, err := hashMatches(file, p.Hashes); err != nil || ok {
		return false
	}
	return os.Remove(file) == nil
}

func (f Files) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return http.DefaultClient
}

func lockedHashDir(hash string) string {
	algo, hex, _ := strings.Cut(hash, ":")
	return algo + "/" + hex
}

// SweepLeftovers removes, once per process, what builds of mlenv
// processes that are gone left behind: layer and venv files in $TMPDIR
// and partial downloads in the download cache (leftover).
func SweepLeftovers() {
	sweepOnce.Do(func() {
		leftover.Sweep(os.TempDir(), "mlenv-layer-")
		leftover.Sweep(os.TempDir(), "mlenv-venv-")
		cache, err := DefaultCache()
		if err != nil {
			return
		}
		// The cache holds a directory per locked hash: <algo>/<hex>/.
		dirs, _ := filepath.Glob(filepath.Join(cache, "*", "*"))
		for _, d := range append(dirs, cache) {
			leftover.Sweep(d, ".download-")
		}
	})
}

var sweepOnce sync.Once
