// Package leftover names what an mlenv process leaves while it works
// (temporary layer and archive files, partial downloads, containers) for
// that process, so that what a killed mlenv left behind is found and
// removed by the next one: a file's name carries the pid, a container's
// label host/pid, and either is removed once no process of this host has
// that pid. What belongs to a live process, or to another user, stays.
package leftover

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Owner is this process as a container label's value: "host/pid".
func Owner() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid())
}

// DeadOwner reports whether owner ("host/pid") names a process of this
// host that is gone.
func DeadOwner(owner string) bool {
	host, pidText, ok := strings.Cut(owner, "/")
	me, _ := os.Hostname()
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || host != me || pid <= 0 {
		return false
	}
	return Gone(pid)
}

// CreateTemp is os.CreateTemp with the pid after the pattern's prefix:
// "mlenv-layer-*.tar" makes mlenv-layer-<pid>-<random>.tar.
func CreateTemp(dir, pattern string) (*os.File, error) {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	return os.CreateTemp(dir, prefix+strconv.Itoa(os.Getpid())+"-*"+suffix)
}

// Sweep removes the files in dir named by CreateTemp with prefix whose
// process is gone, that the user owns (in a shared directory, other
// users' files are theirs); it returns how many it removed.
func Sweep(dir, prefix string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || !Gone(pid) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && mine(fi) && os.Remove(path) == nil {
			n++
		}
	}
	return n
}
