package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/pypitest"
)

// TestLeftoversAreSwept: what an mlenv killed with SIGKILL leaves (a
// layer file in $TMPDIR, a partial download in the download cache, a run
// container that never started) is removed by the next run; a live
// process's files stay. `cache ls` shows the download cache and `cache
// prune` trims the files no build used for 30 days.
func TestLeftoversAreSwept(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	dir := lockedRunProject(t, idx, "")
	tmp, cache := t.TempDir(), t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	layer := filepath.Join(tmp, fmt.Sprintf("mlenv-layer-%d-1.tar", pid))
	live := filepath.Join(tmp, fmt.Sprintf("mlenv-layer-%d-1.tar", os.Getpid()))
	partial := filepath.Join(cache, "mlenv", "files", "sha256", "ab", fmt.Sprintf(".download-%d-1", pid))
	os.MkdirAll(filepath.Dir(partial), 0o700)
	for _, p := range []string{layer, live, partial} {
		writeFile(t, p, strings.Repeat("x", 1<<20))
	}
	host, _ := os.Hostname()
	out, err := exec.Command("docker", "create", "--label", "dev.mlenv.run=1", "--label", fmt.Sprintf("dev.mlenv.owner=%s/%d", host, pid), pythonRef(t), "true").Output()
	if err != nil {
		t.Fatalf("docker create: %v", err)
	}
	created := strings.TrimSpace(string(out))
	defer exec.Command("docker", "rm", "-f", created).Run()

	run := func(args ...string) (string, string) {
		cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "XDG_CACHE_HOME="+cache)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("mlenv %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	run("run", "--", "true")
	for p, want := range map[string]bool{layer: false, partial: false, live: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v after the next run, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if exec.Command("docker", "inspect", created).Run() == nil {
		t.Errorf("the dead mlenv's created container %s is still there", created)
	}

	stdout, _ := run("cache", "ls", "--json")
	var ls struct{ Downloads struct{ Files int } }
	if err := json.Unmarshal([]byte(stdout), &ls); err != nil || ls.Downloads.Files != 2 {
		t.Fatalf("cache ls --json: %v, want 2 downloaded files:\n%s", err, stdout)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "mlenv", "files", "sha256", "*", "*.whl"))
	if len(files) != 2 {
		t.Fatalf("downloaded files %v", files)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	os.Chtimes(files[0], old, old)
	if _, stderr := run("cache", "prune"); !strings.Contains(stderr, "removed 1 downloaded files") {
		t.Errorf("cache prune: %s", stderr)
	}
	if _, err := os.Stat(files[0]); err == nil {
		t.Error("the file no build used for 40 days is still cached")
	}
	if _, err := os.Stat(files[1]); err != nil {
		t.Error("cache prune removed a file a build just used")
	}
}
