// Package envuse remembers, for each user, where and when each
// environment was last run: the project directory and the time, by the
// environment's key (the engine's dev.mlenv.env label). `mlenv cache ls`
// shows it; `mlenv cache prune` of a project finds by it the environments
// of locks that project no longer has.
package envuse

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/mlenv/mlenv/internal/userdir"
)

// Use is an environment's last run.
type Use struct {
	Key     string    `json:"key"`
	Project string    `json:"project"`
	Time    time.Time `json:"time"`
}

// Store is a directory of uses, one file per key.
type Store struct{ Dir string }

// Default is the user's store, in mlenv's cache.
func Default() (Store, error) {
	dir, err := userdir.Cache("uses")
	return Store{Dir: dir}, err
}

// keyRe is what an environment key is (envimage.Key): nothing else names
// a file here.
var keyRe = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// maxUse bounds a use's file.
const maxUse = 8 << 10

// Record says key ran now from project (best effort: a run never fails
// for it).
func (s Store) Record(key, project string) {
	if !keyRe.MatchString(key) || os.MkdirAll(s.Dir, 0o700) != nil {
		return
	}
	if b, err := json.Marshal(Use{Key: key, Project: project, Time: time.Now().UTC()}); err == nil {
		userdir.WriteFile(filepath.Join(s.Dir, key+".json"), b)
	}
}

// Get is key's last use, if one is recorded.
func (s Store) Get(key string) (Use, bool) {
	if !keyRe.MatchString(key) {
		return Use{}, false
	}
	f, err := os.Open(filepath.Join(s.Dir, key+".json"))
	if err != nil {
		return Use{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUse+1))
	var u Use
	if err != nil || len(b) > maxUse || json.Unmarshal(b, &u) != nil || u.Key != key {
		return Use{}, false
	}
	return u, true
}

// Forget removes key's use (its environment is gone).
func (s Store) Forget(key string) {
	if keyRe.MatchString(key) {
		os.Remove(filepath.Join(s.Dir, key+".json"))
	}
}
