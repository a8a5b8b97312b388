package lock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := lock.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"5 MB appended":           append(append([]byte{}, good...), []byte("\n# "+strings.Repeat("x", 5<<20))...),
		"1M levels of arrays":     append(append([]byte{}, good...), []byte("\nx = "+strings.Repeat("[", 1<<20))...),
		"65 levels of tables":     []byte("x = " + strings.Repeat("{a = ", 65) + "1" + strings.Repeat("}", 65)),
		"deep inside a long file": append(append([]byte{}, good...), []byte("\ny = "+strings.Repeat("[", 100)+strings.Repeat("]", 100))...),
	}
	for name, data := range cases {
		path := filepath.Join(dir, "mlenv.lock")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := lock.ReadFile(path)
		if !errors.Is(err, lock.ErrFormat) || !errors.Is(err, schema.ErrBadInput) {
			t.Errorf("%s: err = %v, want a bad-input format error", name, err)
		}
	}
	// Brackets inside strings and comments do not count.
	quoted := append(append([]byte{}, good...), []byte("\n# "+strings.Repeat("[", 100)+"\n")...)
	if err := schema.CheckInput("mlenv.lock", quoted); err != nil {
		t.Errorf("brackets in a comment: %v", err)
	}
	if err := schema.CheckInput("mlenv.toml", []byte(`a = "`+strings.Repeat("[", 100)+`"`+"\nb = '''\n"+strings.Repeat("{", 100)+"'''\n")); err != nil {
		t.Errorf("brackets in strings: %v", err)
	}
}

func TestLockPathIsADirectory(t *testing.T) {
	_, err := lock.ReadFile(t.TempDir())
	if !errors.Is(err, schema.ErrBadInput) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("err = %v, want bad input saying it is a directory", err)
	}
}

func TestWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "locks", "paper.lock")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "mlenv.lock")
	if err := os.Symlink(filepath.Join("locks", "paper.lock"), link); err != nil {
		t.Fatal(err)
	}
	if err := lock.WriteFile(link, sample()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a file: %v %v", fi.Mode(), err)
	}
	if l, err := lock.ReadFile(target); err != nil || l.Image.Digest != sample().Image.Digest {
		t.Errorf("the target was not written: %v", err)
	}
}
