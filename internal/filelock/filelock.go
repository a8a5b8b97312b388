// Package filelock is an advisory, exclusive lock on a file, held by one
// process at a time: mlenv serializes two `mlenv lock` runs of a project
// and two builds of one environment on it. It is no lockfile (mlenv.lock
// is package lock's); the name says mutex.
package filelock

import "os"

// Lock takes an exclusive lock on the file at path, creating it when
// missing, and returns the function that releases it. It blocks while
// another process holds it. The file is opened read-only, so any user who
// can read it can lock it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return func() { unlockFile(f); f.Close() }, nil
}
