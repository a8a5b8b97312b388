//go:build !unix

package userdir

import "os"

// owned says dir is a real directory (other systems' user directories
// are the user's by their ACLs).
func owned(dir string) bool {
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir()
}
