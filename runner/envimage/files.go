package envimage

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// Files finds the locked files: in a wheelhouse, in the download cache,
// or downloaded into it (each checked against its locked hashes).
type Files struct {
	Client     *http.Client
	Cache      string
	Wheelhouse string
}

// Path is the local path of p's locked file.
func (f Files) Path(ctx context.Context, p lock.Package) (string, error) {
	if f.Wheelhouse != "" {
		return Fetch(ctx, nil, p, f.Wheelhouse)
	}
	cache := f.Cache
	if cache == "" {
		cache = DefaultCache()
	}
	if len(p.Hashes) == 0 {
		return Fetch(ctx, f.client(), p, cache)
	}
	// One directory per locked hash: two indexes may serve files of one
	// name with other contents.
	dir := filepath.Join(cache, filepath.FromSlash(lockedHashDir(p.Hashes[0])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return Fetch(ctx, f.client(), p, dir)
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
