//go:build !unix && !windows

package filelock

import (
	"errors"
	"os"
)

func lockFile(*os.File) error {
	return errors.New("this system has no file locks mlenv knows: run mlenv on Linux, macOS or Windows")
}

func unlockFile(*os.File) error { return nil }

func tryLockFile(f *os.File) (bool, error) { return false, lockFile(f) }

func openPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
