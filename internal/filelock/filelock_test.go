package filelock

import (
	"path/filepath"
	"testing"
	"time"
)

// A second holder waits until the first releases the lock.
func TestLockSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := Lock(path) // a second open file: flock locks per open file
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("the second Lock did not wait for the first")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock did not get the lock after release")
	}
}

// A lock in a directory that does not exist is an error naming the path.
func TestLockMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "x.lock")
	if _, err := Lock(path); err == nil {
		t.Fatal("Lock in a missing directory: no error")
	}
}
