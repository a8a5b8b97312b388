package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// boundedMlenv runs the mlenv binary under a 512 MB data-segment limit
// (prlimit) and a minute's time, as a shared server bounds a user.
func boundedMlenv(t *testing.T, dir string, args ...string) (int, string, time.Duration) {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to bound mlenv's memory: %v", err)
	}
	cmd := exec.Command(prlimit, append([]string{"--data=512000000", "--cpu=60", mlenvBinary(t), "--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), time.Since(start)
}

// TestTinyTOMLCannotExhaustMemory: a 40 KB mlenv.toml or mlenv.lock with
// a key of 20,000 dotted parts (8 GB in the TOML decoder), a 3 MB one of
// 500,000 keys, or a line of 1 MB, is refused before it is decoded: exit
// 2 naming file, line and limit, under a 512 MB limit.
func TestTinyTOMLCannotExhaustMemory(t *testing.T) {
	reg := families(t)
	dotted := strings.Repeat("a.", 20000) + "a = 1\n"
	for _, tc := range []struct {
		name, toml, want string
		args             []string
	}{
		{"key parts in mlenv.toml", pytorchSpec + "[run.env]\n" + dotted, "mlenv.toml:8: a key of more than 8 dotted parts", []string{"lock"}},
		{"table header parts", pytorchSpec + "[" + strings.Repeat("a.", 20000) + "a]\n", "a key of more than 8 dotted parts", []string{"lock"}},
		{"keys without end", pytorchSpec + "[run.env]\n" + strings.Repeat("a = 1\n", 500000), "more than 400000 key parts in all", []string{"lock"}},
		{"long line", pytorchSpec + "[run]\ncommand = [\"" + strings.Repeat("x", 1<<20) + "\"]\n", "a line longer than 16384 bytes", []string{"lock"}},
	} {
		dir := newProject(t, reg, tc.toml)
		code, out, took := boundedMlenv(t, dir, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d in %v, want 2 saying %q:\n%.400s", tc.name, code, took, tc.want, out)
		}
	}
	dir := newProject(t, reg, pytorchSpec)
	mustLock(t, dir)
	lockPath := filepath.Join(dir, "mlenv.lock")
	good := readFile(t, lockPath)
	writeFile(t, lockPath, strings.Replace(good, "[inputs]\n", "[inputs]\n"+dotted, 1))
	if code, out, took := boundedMlenv(t, dir, "show"); code != 2 || !strings.Contains(out, "a key of more than 8 dotted parts") {
		t.Errorf("key parts in mlenv.lock: exit %d in %v:\n%.400s", code, took, out)
	}
	writeFile(t, lockPath, strings.Replace(good, "[inputs]\n", "[inputs]\nsmuggled = \"not checked\"\n", 1))
	if code, out, _ := boundedMlenv(t, dir, "show"); code != 2 || !strings.Contains(out, "unknown key inputs.smuggled") {
		t.Errorf("an unknown key in mlenv.lock: exit %d:\n%.400s", code, out)
	}
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
}
