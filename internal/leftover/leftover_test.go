package leftover

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A file of a process that is gone is swept; this process's stays, and
// so do files of other names.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "mlenv-layer-"+strconv.Itoa(dead.Process.Pid)+"-123.tar")
	other := filepath.Join(dir, "unrelated-"+strconv.Itoa(dead.Process.Pid)+"-1.tar")
	for _, p := range []string{gone, other} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	live, err := CreateTemp(dir, "mlenv-layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	if n := Sweep(dir, "mlenv-layer-"); n != 1 {
		t.Errorf("swept %d files, want 1", n)
	}
	for p, want := range map[string]bool{gone: false, other: true, live.Name(): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
