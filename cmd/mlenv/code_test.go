package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

var projectRefRe = regexp.MustCompile(`image: (\S+@sha256:[0-9a-f]{64})`)

// TestProjectImage: `mlenv push --code` pushes the environment plus the
// git-tracked files at HEAD in [run] workdir; `export k8s --code image`
// names it by a digest computed here (the same from another clone of the
// commit, and before the push, with a warning); the image runs the
// project's own file; untracked and ignored files never go in;
// uncommitted changes are refused unless --dirty, which says so.
func TestProjectImage(t *testing.T) {
	idx := pypitest.New(t, testWheels...)
	cache := enginetest.Registry(t) + "/mlenv-test/code"
	dir := pipProject(t, pythonRef(t), "[pip]\npackages = [\"beta\"]\nindex-url = \""+idx.URL+"\"\n[run]\nenv-cache = \""+cache+"\"\ncommand = [\"python3\", \"train.py\"]\n")
	writeFile(t, filepath.Join(dir, "train.py"), "import beta, os\nprint('trained from', os.getcwd(), 'with beta', beta.__version__, sorted(os.listdir('.')))\n")
	writeFile(t, filepath.Join(dir, ".gitignore"), "ignored.txt\n")
	r := mlenv(t, dir, "lock")
	if r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	// lock downloads the files to compute the environment's digests: not
	// in silence
	if !regexp.MustCompile(`(?m)^Digesting the layers of 2 locked files \(0 were known\): 2/2(, \S+)? in \S+s$`).MatchString(r.stderr) {
		t.Errorf("lock's log has no line for computing the environment:\n%s", r.stderr)
	}
	gitIn(t, dir, "init", "-q")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "paper")
	commit := gitIn(t, dir, "rev-parse", "HEAD")
	writeFile(t, filepath.Join(dir, "untracked.txt"), "not committed")
	writeFile(t, filepath.Join(dir, "ignored.txt"), "ignored")

	before := mlenv(t, dir, "export", "k8s", "--code", "image")
	m := projectRefRe.FindStringSubmatch(before.stdout)
	if before.code != 0 || m == nil || !strings.Contains(before.stderr, "does not have the project image") {
		t.Fatalf("export --code image before the push: exit %d\n%s\n%s", before.code, before.stdout, before.stderr)
	}
	ref := m[1]
	push := mlenv(t, dir, "push", "--code", "--json")
	var res pushResult
	if push.code != 0 || json.Unmarshal([]byte(push.stdout), &res) != nil || res.Project == nil || res.Project.Commit != commit || res.Project.Dirty {
		t.Fatalf("push --code: exit %d\n%s\n%s", push.code, push.stdout, push.stderr)
	}
	if !regexp.MustCompile(`(?m)^Pushing \S+/mlenv-test/code: \S+ of \S+ in \S+s$`).MatchString(push.stderr) {
		t.Errorf("push --code's log has no line for the push:\n%s", push.stderr)
	}
	if len(res.Project.Platforms) != 1 || res.Project.Platforms[0].Reference != ref {
		t.Errorf("push --code pushed %+v; the export names %s", res.Project.Platforms, ref)
	}
	if after := mlenv(t, dir, "export", "k8s", "--code", "image"); !strings.Contains(after.stdout, ref) || strings.Contains(after.stderr, "does not have") {
		t.Errorf("export after the push: %s\n%s", after.stdout, after.stderr)
	}
	out := enginetest.Docker(t, nil, "run", "--rm", ref)
	if want := "trained from /src with beta 1.0 ['.gitignore', 'mlenv.lock', 'mlenv.toml', 'train.py']"; out != want {
		t.Errorf("the project image ran:\n%s\nwant:\n%s", out, want)
	}
	if label := enginetest.Docker(t, nil, "image", "inspect", "-f", `{{index .Config.Labels "dev.mlenv.code"}}`, ref); label != commit {
		t.Errorf("label %q, want the commit %s", label, commit)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	gitIn(t, dir, "clone", "-q", dir, clone)
	if r := mlenv(t, clone, "export", "k8s", "--code", "image"); !strings.Contains(r.stdout, ref) {
		t.Errorf("another clone of the commit names another image:\n%s\n%s", r.stdout, r.stderr)
	}

	writeFile(t, filepath.Join(dir, "train.py"), "print('changed')\n")
	if r := mlenv(t, dir, "push", "--code"); r.code == 0 || !strings.Contains(r.stderr, "uncommitted changes to tracked files (train.py)") || !strings.Contains(r.stderr, "--dirty") {
		t.Errorf("push --code with uncommitted changes: exit %d\n%s", r.code, r.stderr)
	}
	dirty := mlenv(t, dir, "push", "--code", "--dirty", "--json")
	if dirty.code != 0 || json.Unmarshal([]byte(dirty.stdout), &res) != nil || !res.Project.Dirty || !strings.Contains(dirty.stderr, "with uncommitted changes") {
		t.Fatalf("push --code --dirty: exit %d\n%s\n%s", dirty.code, dirty.stdout, dirty.stderr)
	}
	if out := enginetest.Docker(t, nil, "run", "--rm", res.Project.Reference); out != "changed" {
		t.Errorf("the dirty project image ran %q", out)
	}
	os.Remove(filepath.Join(dir, "untracked.txt"))
}
