package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mlenv/mlenv/internal/filelock"
	"github.com/mlenv/mlenv/schema"
)

// ErrStale marks a lock that is missing or no longer matches its
// mlenv.toml: mlenv exits 3 for it.
var ErrStale = errors.New("stale lock")

// StaleError says why a project's lock cannot be used as it is.
type StaleError struct {
	Path   string
	Reason string // "" when the lock does not exist
	Hint   string
}

func (e *StaleError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s does not exist: run `mlenv lock` first", e.Path)
	}
	return fmt.Sprintf("%s is stale: %s: %s", e.Path, e.Reason, e.Hint)
}

// Is makes a StaleError ErrStale.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// Project is a loaded mlenv.toml, its canonical hashes and the path of its
// lock.
type Project struct {
	Spec     *schema.Spec
	Hashes   schema.Hashes
	LockPath string
}

// FindSpec looks for mlenv.toml in dir and its parents.
func FindSpec(dir string) (string, error) {
	for {
		p := filepath.Join(dir, schema.FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", schema.BadInput(errors.New("no mlenv.toml in this directory or any parent: create one with `mlenv init`, or pass --file"))
		}
		dir = parent
	}
}

// PathBeside is the lock's path: lockPath when given, else mlenv.lock
// beside the spec.
func PathBeside(spec, lockPath string) string {
	if lockPath != "" {
		return lockPath
	}
	return filepath.Join(filepath.Dir(spec), FileName)
}

// OpenProject loads, validates (with the checks) and hashes the mlenv.toml
// at spec; lockPath "" means mlenv.lock beside it.
func OpenProject(spec, lockPath string, checks ...schema.Check) (*Project, error) {
	s, err := schema.Load(spec, checks...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, schema.BadInput(fmt.Errorf("%s not found: create one with `mlenv init`", spec))
	}
	if err != nil {
		return nil, err
	}
	h, err := s.Hashes()
	if err != nil {
		return nil, err
	}
	return &Project{Spec: s, Hashes: h, LockPath: PathBeside(spec, lockPath)}, nil
}

// ReadLock reads the project's lock; a missing lock returns nil, nil.
func (p *Project) ReadLock() (*Lock, error) {
	l, err := ReadFile(p.LockPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return l, err
}

// Freshness compares the project's lock with its mlenv.toml.
// A lock whose [run] is not mlenv.toml's, where it claims to be, is never
// fresh (Freshness.Forged).
func (p *Project) Freshness(l *Lock) Freshness { return CheckRun(p.Hashes, p.Spec.Run, l) }

// Locked reads the project's lock for use: a missing lock, or a stale one
// unless frozen, is a StaleError.
func (p *Project) Locked(frozen bool) (*Lock, error) {
	l, err := Require(p.LockPath)
	if err != nil {
		return nil, err
	}
	if f := p.Freshness(l); len(f.Forged) > 0 {
		return nil, &StaleError{Path: p.LockPath, Reason: f.Reason(), Hint: "restore it from version control, or run `mlenv lock` to write it from mlenv.toml"}
	} else if !f.Fresh && !frozen {
		return nil, &StaleError{Path: p.LockPath, Reason: f.Reason(), Hint: "run `mlenv lock`, or pass --frozen to use the lock as it is"}
	}
	return l, nil
}

// Require reads a lock that must exist: a missing one is a StaleError that
// says to run `mlenv lock`.
func Require(path string) (*Lock, error) {
	l, err := ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &StaleError{Path: path}
	}
	return l, err
}

// Exclusive serializes mlenv processes that write the project's lock: it
// holds an advisory lock on mlenv.toml until the returned func is called,
// so two `mlenv lock` at once run one after the other. A lock that cannot
// be taken is an error: writing unserialized could interleave two locks.
func (p *Project) Exclusive() (unlock func(), err error) {
	unlock, err = filelock.Lock(p.Spec.Path)
	if err != nil {
		return nil, fmt.Errorf("serialize writers of %s: %w (mlenv locks mlenv.toml while it writes mlenv.lock: use a file system with file locks)", p.LockPath, err)
	}
	return unlock, nil
}
