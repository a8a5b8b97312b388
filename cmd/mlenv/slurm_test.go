package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

// needSlurm fails in CI, and skips elsewhere, when no Slurm cluster
// answers (.ci/setup starts a one-node one).
func needSlurm(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("sinfo", "-h", "-o", "%T").Output(); err != nil || !strings.Contains(string(out), "idle") && !strings.Contains(string(out), "mix") && !strings.Contains(string(out), "alloc") {
		enginetest.Missing(t, fmt.Sprintf("a Slurm cluster (sinfo: %v %s; bash .ci/setup starts one)", err, out))
	}
}

// sbatch submits script from dir (the job's SLURM_SUBMIT_DIR) with env,
// waits for the job to end, and returns its state, exit code, output and
// how long it took from sbatch to its output.
func sbatch(t *testing.T, dir, script string, env []string) (state, exit, output string, took time.Duration) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("sbatch", "--parsable", script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sbatch: %v\n%s", err, out)
	}
	id := strings.TrimSpace(strings.Split(string(out), ";")[0])
	deadline := time.Now().Add(3 * time.Minute)
	for {
		info, _ := exec.Command("scontrol", "show", "job", id).Output()
		fields := map[string]string{}
		for _, f := range strings.Fields(string(info)) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		switch fields["JobState"] {
		case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY":
			took = time.Since(start)
			b, _ := os.ReadFile(fields["StdOut"])
			return fields["JobState"], fields["ExitCode"], string(b), took
		}
		if time.Now().After(deadline) {
			exec.Command("scancel", id).Run()
			t.Fatalf("job %s did not end in 3 minutes: %s", id, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withoutMlenv is the environment minus any mlenv on PATH (the node has
// only docker).
func withoutMlenv() []string {
	return append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

// TestSlurmJobRunsTheLock: the exported sbatch script, submitted to a
// real Slurm, runs the locked environment on the node: from the env-cache
// by digest with the node's docker, or through mlenv when it is on the
// node's PATH; the job's exit code is the command's; a node with neither
// fails the job saying what to do.
func TestSlurmJobRunsTheLock(t *testing.T) {
	needSlurm(t)
	idx := pypitest.New(t, testWheels...)
	cache := enginetest.Registry(t) + "/mlenv-test/slurm-envs"
	project := func(command, extra string) string {
		dir := pipProject(t, pythonRef(t), fmt.Sprintf("[project]\nname = \"paper\"\n[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\ncommand = %s\nenv = { GREETING = \"hi\" }\n%s", idx.URL, command, extra))
		if r := mlenv(t, dir, "lock"); r.code != 0 {
			t.Fatalf("lock: %s", r.stderr)
		}
		return dir
	}
	export := func(dir string) string {
		if r := mlenv(t, dir, "export", "slurm", "-o", dir); r.code != 0 {
			t.Fatalf("export slurm: exit %d: %s", r.code, r.stderr)
		}
		return filepath.Join(dir, "paper.sbatch")
	}
	show := `["python3", "-c", "import alpha, beta, os, sys; print('locked', alpha.__version__, beta.__version__, sys.prefix, os.environ['GREETING'], open('hello.txt').read())"]`

	// From the env-cache, with the node's docker only.
	dir := project(show, fmt.Sprintf("env-cache = %q\n", cache))
	writeFile(t, filepath.Join(dir, "hello.txt"), "from the project")
	if r := mlenv(t, dir, "push"); r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	state, code, out, took := sbatch(t, dir, export(dir), withoutMlenv())
	if state != "COMPLETED" || !strings.Contains(out, "locked 1.0 1.0 /opt/mlenv/venv hi from the project") {
		t.Fatalf("job from the env-cache: %s %s\n%s", state, code, out)
	}
	t.Logf("sbatch to output, from the env-cache: %v", took)

	// Through mlenv on the node's PATH, no env-cache.
	dir = project(show, "")
	writeFile(t, filepath.Join(dir, "hello.txt"), "from the project")
	bin := mlenvBinary(t)
	state, code, out, took = sbatch(t, dir, export(dir), append(os.Environ(), "PATH="+filepath.Dir(bin)+":/usr/sbin:/usr/bin:/sbin:/bin"))
	if state != "COMPLETED" || !strings.Contains(out, "locked 1.0 1.0 /opt/mlenv/venv hi from the project") {
		t.Fatalf("job through mlenv: %s %s\n%s", state, code, out)
	}
	t.Logf("sbatch to output, through mlenv run --frozen: %v", took)

	// Neither: the job fails and says what to do.
	state, code, out, _ = sbatch(t, dir, export(dir), withoutMlenv())
	if state != "FAILED" || code != "1:0" || !strings.Contains(out, "set [run] env-cache") {
		t.Errorf("job on a node with neither: %s %s\n%s", state, code, out)
	}

	// The command's exit code is the job's.
	dir = project(`["python3", "-c", "import sys; sys.exit(3)"]`, fmt.Sprintf("env-cache = %q\n", cache))
	if r := mlenv(t, dir, "push"); r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	if state, code, out, _ := sbatch(t, dir, export(dir), withoutMlenv()); state != "FAILED" || code != "3:0" {
		t.Errorf("a command exiting 3: job %s, exit code %s, want FAILED 3:0\n%s", state, code, out)
	}
}
