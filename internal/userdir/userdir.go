// Package userdir gives the directories mlenv keeps for each user: the
// cache (downloaded locked files, the environments mlenv computed) and
// the runtime directory (build locks), the home directory of user = "host"
// runs. Each is the user's own, never a
// directory other users share such as $TMPDIR: what another user can
// create there, they can plant a link or a FIFO in, or hold a lock of.
package userdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoHome marks a process with no per-user directory to keep files in.
var ErrNoHome = errors.New("no per-user cache directory: neither XDG_CACHE_HOME nor HOME is set; set one (mlenv keeps its cache there, never in a shared $TMPDIR)")

// Cache is mlenv's cache directory, $XDG_CACHE_HOME/mlenv (or the OS's
// equivalent), followed by elem; it is not created.
func Cache(elem ...string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", ErrNoHome
	}
	return filepath.Join(append([]string{dir, "mlenv"}, elem...)...), nil
}

// Runtime is the directory for mlenv's build locks, created private:
// $XDG_RUNTIME_DIR/mlenv where the session has one (per user, in memory),
// else the cache's locks directory.
func Runtime() (string, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(rt) && owned(rt) {
		return Private(filepath.Join(rt, "mlenv"))
	}
	dir, err := Cache("locks")
	if err != nil {
		return "", err
	}
	return Private(dir)
}

// Private creates dir (and its parents) for the user alone and checks it
// is theirs: a directory, not a link, owned by them, that no one else may
// write.
func Private(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if !owned(dir) {
		return "", fmt.Errorf("%s is not a directory of yours that only you can write (a link, or another user's): remove it, or set XDG_CACHE_HOME", dir)
	}
	return dir, nil
}

// Home is the directory that is HOME in `mlenv run`'s containers under
// user = "host": per user, kept across runs (model downloads, tool
// caches and logins live there).
func Home() (string, error) { return Cache("home") }

// Usage is what a directory holds: its path, regular files and bytes
// (0 and no error where it does not exist).
type Usage struct {
	Dir   string `json:"dir"`
	Size  int64  `json:"size"`
	Files int    `json:"files"`
}

// UsageOf walks dir for its Usage.
func UsageOf(dir string) (Usage, error) {
	u := Usage{Dir: dir}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				u.Size, u.Files = u.Size+info.Size(), u.Files+1
			}
		}
		return nil
	})
	return u, err
}

// WriteFile writes b to path atomically (a temporary file beside it,
// renamed), readable by the user alone: a reader sees the old file or the
// new one, never half of one.
func WriteFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
