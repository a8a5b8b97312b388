// Package filelock is an advisory, exclusive lock on a file, held by one
// process at a time: mlenv serializes two `mlenv lock` runs of a project
// and two builds of one environment on it. It is no lockfile (mlenv.lock
// is package lock's); the name says mutex.
package filelock

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

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

// pollInterval is how often a waiting Private tries the lock again.
const pollInterval = 50 * time.Millisecond

// Private takes an exclusive lock on a file of the user's own (a build
// lock in the user's runtime directory): it is opened without following a
// symbolic link or blocking on a FIFO, and anything but a regular file
// owned by the user is refused. While another process holds it, onWait
// (when set) is told once who does (what the holder wrote in the file:
// its pid and since when), and the wait ends with ctx.
func Private(ctx context.Context, path string, onWait func(holder string)) (unlock func(), err error) {
	f, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	for told := false; ; {
		ok, err := tryLockFile(f)
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "lock", Path: path, Err: err}
		}
		if ok {
			break
		}
		if !told && onWait != nil {
			onWait(holder(f))
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	}
	return func() { f.Truncate(0); unlockFile(f); f.Close() }, nil
}

// holder is what the holder of f's lock wrote in it (one short line).
func holder(f *os.File) string {
	b := make([]byte, 128)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(strings.SplitN(string(b[:n]), "\n", 2)[0]); s != "" {
		return s
	}
	return "another process"
}
