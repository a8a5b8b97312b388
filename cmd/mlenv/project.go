package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve/family"
)

// specPath is --file, or mlenv.toml found upward from the working
// directory.
func specPath(g *globalOptions) (string, error) {
	if g.file != "" {
		return g.file, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return lock.FindSpec(wd)
}

// openProject loads and validates mlenv.toml (the family table's checks
// with the schema's, in one pass).
func openProject(g *globalOptions) (*lock.Project, error) {
	spec, err := specPath(g)
	if err != nil {
		return nil, err
	}
	return lock.OpenProject(spec, g.lockfile, family.Validate)
}

// lockedProject opens the project and its lock for use: missing or stale
// (unless frozen) exits 3, corrupted 2.
func lockedProject(g *globalOptions, frozen bool) (*lock.Project, *lock.Lock, error) {
	p, err := openProject(g)
	if err != nil {
		return nil, nil, err
	}
	l, err := p.Locked(frozen)
	return p, l, err
}

// readProjectLock reads the lock of the project (or --lockfile) without
// loading mlenv.toml, so a lock can be shown while its spec is edited.
func readProjectLock(g *globalOptions) (*lock.Lock, error) {
	_, l, err := readProject(g)
	return l, err
}

// readProject is readProjectLock with the project's directory (where
// mlenv.toml is, or would be).
func readProject(g *globalOptions) (string, *lock.Lock, error) {
	spec := g.file
	if spec == "" && g.lockfile == "" {
		var err error
		if spec, err = specPath(g); err != nil {
			return "", nil, err
		}
	}
	path := lock.PathBeside(spec, g.lockfile)
	l, err := lock.Require(path)
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Dir(path)
	if spec != "" {
		dir = filepath.Dir(spec)
	}
	abs, err := filepath.Abs(dir)
	return abs, l, err
}

// say prints human output on stderr unless --quiet.
func say(g *globalOptions, w io.Writer, format string, args ...any) {
	if !g.quiet {
		fmt.Fprintf(w, format, args...)
	}
}

// emit prints v as indented JSON when enabled.
func emit(enabled bool, w io.Writer, v any) error {
	if !enabled {
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// info is a line printer for what long work does, on stderr unless --quiet.
func info(g *globalOptions, w io.Writer) func(string) {
	if g.quiet {
		return nil
	}
	return func(s string) { fmt.Fprintln(w, s) }
}
