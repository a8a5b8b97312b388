//go:build unix

package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Private refuses, at once, a link, a FIFO and a file of another user
// where its lock file belongs, and a wait on a held lock says who holds
// it and ends with its context.
func TestPrivateRefusesWhatIsNotTheUsers(t *testing.T) {
	dir := t.TempDir()
	link, fifo := filepath.Join(dir, "link.lock"), filepath.Join(dir, "fifo.lock")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo} {
		done := make(chan error, 1)
		go func() { _, err := Private(context.Background(), p, nil); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: locked", filepath.Base(p))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Private blocks", filepath.Base(p))
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); err == nil {
		t.Error("the link's target was created")
	}
	path := filepath.Join(dir, "x.lock")
	unlock, err := Private(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var holder string
	if _, err := Private(ctx, path, func(h string) { holder = h }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a wait past its context: %v", err)
	}
	if !strings.Contains(holder, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("the wait was told %q, want the holder's pid", holder)
	}
}
