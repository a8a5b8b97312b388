//go:build unix

package userdir

import (
	"os"
	"syscall"
)

// owned says dir is a real directory of the user's that no one else may
// write.
func owned(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
