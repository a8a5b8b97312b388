// Package envrecord remembers, for each user on this machine, the
// environment digests mlenv computed itself and the inputs it computed
// them from (the base image and the locked files). A lock's env and
// env-config are digests anyone can write; mlenv trusts them only where a
// record says it computed the same from the same inputs, and otherwise
// computes them before it runs, pulls or names an image by them.
package envrecord

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Digests are an environment's manifest and config digests (the lock's
// env and env-config).
type Digests struct {
	Env    string `json:"env"`
	Config string `json:"env-config"`
}

// Locked are the digests l records for platform.
func Locked(l *lock.Lock, platform string) Digests {
	pl, _ := l.Image.Platform(platform)
	return Digests{Env: pl.EnvDigest, Config: pl.EnvConfig}
}

// Inputs digests everything an environment's digests are computed from:
// the base image (repository, index, platform manifest and config), the
// interpreter and the platform's locked files.
func Inputs(l *lock.Lock, platform string) string {
	pl, _ := l.Image.Platform(platform)
	return schema.DigestJSON(struct{ Format, Repo, Index, Platform, Digest, Config, Python, Exe, Packages any }{
		"mlenv-env-record v1", l.Image.Repository, l.Image.Digest, platform, pl.Digest, pl.Config,
		l.Versions.Python, l.Versions.PythonExecutable, l.PackagesFor(platform)})
}

// Store is a directory of records.
type Store struct{ Dir string }

// Default is the user's store, in mlenv's cache.
func Default() (Store, error) {
	dir, err := userdir.Cache("envs")
	return Store{Dir: dir}, err
}

func (s Store) path(inputs string) string {
	return filepath.Join(s.Dir, strings.TrimPrefix(inputs, "sha256:")+".json")
}

// Recall is the record for inputs, if there is one.
func (s Store) Recall(inputs string) (Digests, bool) {
	b, err := os.ReadFile(s.path(inputs))
	if err != nil || len(b) > 4096 {
		return Digests{}, false
	}
	var d Digests
	if json.Unmarshal(b, &d) != nil || d.Env == "" || d.Config == "" {
		return Digests{}, false
	}
	return d, true
}

// Remember records that mlenv computed d from inputs.
func (s Store) Remember(inputs string, d Digests) error {
	if _, err := userdir.Private(s.Dir); err != nil {
		return err
	}
	b, _ := json.Marshal(d)
	tmp, err := os.CreateTemp(s.Dir, ".record-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path(inputs))
}

// MismatchError is a lock whose environment digests are not the ones
// mlenv computes from its base image and locked files.
type MismatchError struct {
	Platform string
	Locked   Digests
	Computed Digests
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("mlenv.lock's %s environment is %s (env-config %s), but its base image and locked packages make %s (env-config %s): the lock's env digests were edited, or come from another lock; mlenv does not run, pull or name an image by them; restore mlenv.lock from version control, or run `mlenv lock --upgrade`",
		e.Platform, e.Locked.Env, e.Locked.Config, e.Computed.Env, e.Computed.Config)
}

// Check compares the lock's digests for platform with the record: true
// when a record matches, a *MismatchError when it differs, and false with
// no error where there is no record (the caller computes them).
func (s Store) Check(l *lock.Lock, platform string) (bool, error) {
	got, ok := s.Recall(Inputs(l, platform))
	if !ok {
		return false, nil
	}
	if want := Locked(l, platform); got != want {
		return false, &MismatchError{Platform: platform, Locked: want, Computed: got}
	}
	return true, nil
}
