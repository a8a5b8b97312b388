//go:build unix

package leftover

import (
	"errors"
	"os"
	"syscall"
)

// Gone reports whether no process of this host has pid.
func Gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func mine(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
