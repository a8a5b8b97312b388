package lock

import (
	"os"
	"syscall"
)

// Flock takes an exclusive advisory lock on the file at path, creating it
// when missing, and returns the function that releases it. The file is
// opened read-only, so any user who can read it can lock it: shared-server
// users serialize on one file.
func Flock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
