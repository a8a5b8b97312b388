//go:build unix

package runner

import (
	"errors"
	"os"
	"syscall"
)

// processGone reports whether no process of this host has pid.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// resizeSignals tell that the terminal changed size.
var resizeSignals = []os.Signal{syscall.SIGWINCH}
