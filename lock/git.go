package lock

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ReadGit reads the lock at path as it was at a git revision (git show
// REV:path), for comparing a lock with its history.
func ReadGit(path, rev string) (*Lock, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(abs)
	top, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git repository: %w", dir, err)
	}
	rel, err := filepath.Rel(strings.TrimSpace(string(top)), abs)
	if err != nil {
		return nil, err
	}
	show := exec.Command("git", "-C", dir, "show", rev+":"+filepath.ToSlash(rel))
	var stderr strings.Builder
	show.Stderr = &stderr
	data, err := show.Output()
	if err != nil {
		return nil, fmt.Errorf("git show %s:%s: %s", rev, rel, strings.TrimSpace(stderr.String()))
	}
	return Unmarshal(rev+":"+rel, data)
}
