package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlenv/mlenv/schema"
)

// ReadFile reads and decodes the lock at path. A missing file is an error
// wrapping fs.ErrNotExist.
func ReadFile(path string) (*Lock, error) {
	data, err := schema.ReadInput(path)
	var bad *schema.Error
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err != nil {
		return nil, err
	}
	return Unmarshal(path, data)
}

// WriteFile writes l to path atomically: to a temporary file in the same
// directory, synced, then renamed over path. A failure at any point leaves
// the old file as it was. A path that is a symlink is written through: its
// target is replaced and the link kept.
func WriteFile(path string, l *Lock) error {
	data, err := Marshal(l)
	if err != nil {
		return err
	}
	return WriteAtomic(throughLinks(path), data)
}

// throughLinks follows path's symlinks, also to a target that does not
// exist yet, so that the file written is the link's target.
func throughLinks(path string) string {
	for range 40 { // as many as the kernel follows
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path
		}
		target, err := os.Readlink(path)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return path
}

// WriteAtomic writes data to path through a synced temporary file renamed
// over it: a reader sees the old file or the new one, never part of one.
func WriteAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
