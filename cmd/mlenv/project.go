package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/schema"
)

// project is a loaded mlenv.toml with its hashes and lock path.
type project struct {
	spec     *schema.Spec
	hashes   schema.Hashes
	lockPath string
}

// loadProject finds, loads and validates mlenv.toml.
func loadProject(g *globalOptions) (*project, error) {
	path := g.file
	if path == "" {
		var err error
		if path, err = findSpec(); err != nil {
			return nil, err
		}
	}
	spec, err := schema.Load(path)
	if err != nil {
		if isNotExist(err) {
			return nil, withCode(exitUsage, fmt.Errorf("%s not found: create one with `mlenv init`", path))
		}
		return nil, err
	}
	if err := resolve.Validate(spec); err != nil {
		return nil, err
	}
	h, err := spec.Hashes()
	if err != nil {
		return nil, err
	}
	return &project{spec: spec, hashes: h, lockPath: lockPath(g, path)}, nil
}

// findSpec looks for mlenv.toml in the working directory and its parents.
func findSpec() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, schema.FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", withCode(exitUsage, errors.New("no mlenv.toml in this directory or any parent: create one with `mlenv init`, or pass --file"))
		}
		dir = parent
	}
}

// readLock reads the project's lock; a missing lock returns nil, nil.
func (p *project) readLock() (*lock.Lock, error) {
	l, err := lock.ReadFile(p.lockPath)
	if isNotExist(err) {
		return nil, nil
	}
	return l, err
}

// readProjectLock reads the lock of the project (or --lockfile) without
// requiring it to be fresh; a missing lock says to run `mlenv lock`.
// It does not load mlenv.toml, so a lock can be shown while its spec is
// being edited.
func readProjectLock(g *globalOptions) (*lock.Lock, error) {
	spec := g.file
	if spec == "" && g.lockfile == "" {
		var err error
		if spec, err = findSpec(); err != nil {
			return nil, err
		}
	}
	return requireLock(lockPath(g, spec))
}

// lockPath is --lockfile, or mlenv.lock beside the spec.
func lockPath(g *globalOptions, spec string) string {
	if g.lockfile != "" {
		return g.lockfile
	}
	return filepath.Join(filepath.Dir(spec), lock.FileName)
}

// requireLock reads a lock that must exist: a missing one exits 3 and says
// to run `mlenv lock`.
func requireLock(path string) (*lock.Lock, error) {
	l, err := lock.ReadFile(path)
	if isNotExist(err) {
		return nil, withCode(exitStale, fmt.Errorf("%s does not exist: run `mlenv lock` first", path))
	}
	return l, err
}

// exclusive serializes mlenv processes that write the project's lock: it
// holds an advisory lock on mlenv.toml until the returned func is called,
// so two `mlenv lock` at once run one after the other.
func (p *project) exclusive() func() {
	f, err := os.Open(p.spec.Path)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}
