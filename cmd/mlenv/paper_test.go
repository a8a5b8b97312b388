package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/registrytest"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/schema"
)

func TestInit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "requirements.txt"), "numpy==1.26.4\n")
	r := mlenv(t, dir, "init", "--framework", "pytorch", "--version", "2.1", "--cuda", ">=12.1")
	if r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	spec, err := schema.Load(filepath.Join(dir, "mlenv.toml"))
	if err != nil {
		t.Fatalf("init wrote an invalid mlenv.toml: %v", err)
	}
	if spec.Image.Family != "pytorch" || spec.Image.Version != "~2.1" || spec.Image.CUDA != ">=12.1" || spec.Pip.Requirements != "requirements.txt" {
		t.Errorf("init wrote %+v %+v", spec.Image, spec.Pip)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "mlenv.toml")), "# ") {
		t.Error("mlenv.toml has no comments")
	}
	if r := mlenv(t, dir, "init"); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("init over an existing file: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "init", "--force", "--framework", "tensorflow", "--version", ">=2.15"); r.code != 0 || !strings.Contains(readFile(t, filepath.Join(dir, "mlenv.toml")), `version = ">=2.15"`) {
		t.Errorf("init --force: exit %d: %s", r.code, r.stderr)
	}
	if r := mlenv(t, dir, "init", "--force", "--framework", "pytroch"); r.code != 2 {
		t.Errorf("unknown framework: exit %d", r.code)
	}
}

func TestShowAndDiff(t *testing.T) {
	reg := families(t)
	dir := newProject(t, reg, "[project]\nname = \"paper\"\n"+pytorchSpec)
	mustLock(t, dir)
	show := mlenv(t, dir, "show")
	for _, want := range []string{"2.1.2-cuda12.1-cudnn8-runtime@sha256:", "linux/arm64", "cuda        12.1  (tag)", "min driver  530.30.02"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, show.stdout)
		}
	}
	var asJSON struct {
		Versions struct {
			CUDA string `json:"cuda"`
		} `json:"versions"`
		Image struct {
			Platforms []struct{ Platform string } `json:"platform"`
		} `json:"image"`
	}
	if err := json.Unmarshal([]byte(mlenv(t, dir, "show", "--json").stdout), &asJSON); err != nil || asJSON.Versions.CUDA != "12.1" || len(asJSON.Image.Platforms) != 2 {
		t.Errorf("show --json: %v %+v", err, asJSON)
	}
	if md := mlenv(t, dir, "show", "--markdown").stdout; !strings.Contains(md, "| CUDA | 12.1 |") || !strings.Contains(md, "| pytorch | 2.1.2 |") {
		t.Errorf("show --markdown:\n%s", md)
	}

	// Commit the lock, move to PyTorch 2.7, and diff against the commit.
	git(t, dir, "init", "-q")
	git(t, dir, "add", "mlenv.lock")
	git(t, dir, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "lock")
	old := filepath.Join(t.TempDir(), "old.lock")
	writeFile(t, old, readFile(t, filepath.Join(dir, "mlenv.lock")))
	spec := filepath.Join(dir, "mlenv.toml")
	writeFile(t, spec, strings.Replace(readFile(t, spec), "~2.1", "~2.7", 1))
	mustLock(t, dir)
	for _, args := range [][]string{{"diff", "--git", "HEAD"}, {"diff", old, filepath.Join(dir, "mlenv.lock")}} {
		d := mlenv(t, dir, args...)
		for _, want := range []string{"tag: 2.1.2-cuda12.1-cudnn8-runtime → 2.7.1-cuda12.8-cudnn9-runtime", "framework-version: 2.1.2 → 2.7.1", "cuda: 12.1 → 12.8"} {
			if d.code != 0 || !strings.Contains(d.stdout, want) {
				t.Errorf("mlenv %v lacks %q: exit %d\n%s%s", args, want, d.code, d.stdout, d.stderr)
			}
		}
	}
	var dj lock.Diff
	if err := json.Unmarshal([]byte(mlenv(t, dir, "diff", "--git", "HEAD", "--json").stdout), &dj); err != nil || len(dj.Image) == 0 || len(dj.Versions) == 0 {
		t.Errorf("diff --json: %v %+v", err, dj)
	}
	if d := mlenv(t, dir, "diff", old, old); !strings.Contains(d.stdout, "same environment") {
		t.Errorf("diff of a lock with itself: %s", d.stdout)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestVerifyRegistry: verify passes on a fresh lock whose digests exist,
// warns (fails with --strict) when the tag moved, fails when a digest is
// gone, and exits 3 for a stale lock.
func TestVerifyRegistry(t *testing.T) {
	reg := registrytest.New(t)
	tag := "12.6.3-runtime-ubuntu24.04"
	reg.Push(registrytest.CUDA, tag, registrytest.Image{Env: []string{"CUDA_VERSION=12.6.3"}}.Build(t, "v1"))
	dir := newProject(t, reg, "[image]\nfamily = \"cuda\"\nversion = \"~12.6\"\nregistry = \"{{registry}}\"\n")
	mustLock(t, dir)
	if r := mlenv(t, dir, "verify"); r.code != 0 || !strings.Contains(r.stderr, "ok   tag "+tag) {
		t.Errorf("verify: exit %d\n%s", r.code, r.stderr)
	}
	reg.Push(registrytest.CUDA, tag, registrytest.Image{Env: []string{"CUDA_VERSION=12.6.3"}}.Build(t, "v2 rebuilt"))
	if r := mlenv(t, dir, "verify"); r.code != 0 || !strings.Contains(r.stderr, "warn tag "+tag+": the tag now points at") {
		t.Errorf("tag moved: exit %d\n%s", r.code, r.stderr)
	}
	r := mlenv(t, dir, "verify", "--strict", "--json")
	var rep resolve.VerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 1 || err != nil || rep.OK {
		t.Errorf("tag moved, --strict: exit %d %v\n%s", r.code, err, r.stdout)
	}
	l := readLock(t, dir)
	reg.Wrap = func(w http.ResponseWriter, q *http.Request, next http.Handler) {
		if strings.HasSuffix(q.URL.Path, "/manifests/"+l.Image.Digest) {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, q)
	}
	if r := mlenv(t, dir, "verify"); r.code != 1 || !strings.Contains(r.stderr, "fail exists") {
		t.Errorf("digest gone: exit %d\n%s", r.code, r.stderr)
	}
	reg.Wrap = nil
	spec := filepath.Join(dir, "mlenv.toml")
	writeFile(t, spec, readFile(t, spec)+"[run]\nipc = \"host\"\n")
	if r := mlenv(t, dir, "verify"); r.code != 3 || !strings.Contains(r.stderr, "[run]") {
		t.Errorf("stale: exit %d\n%s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(dir, "mlenv.lock"))
	if r := mlenv(t, dir, "verify", "--offline"); r.code != 3 {
		t.Errorf("no lock: exit %d", r.code)
	}
}

// TestVerifyUpstreamDeletions: the registry deletes the locked tag, then
// the locked digest (as NVIDIA does with end-of-life images); verify tells
// tag-gone (a warning: the digest still pulls) from digest-gone (a
// failure, with the fix), in human and JSON output.
func TestVerifyUpstreamDeletions(t *testing.T) {
	reg := families(t)
	reg.Push("mlenv-test/eol", "11.0-base", registrytest.Image{Env: []string{"CUDA_VERSION=11.0.3"}}.Build(t, "end of life"))
	dir := newProject(t, reg, "[image]\nref = \"{{registry}}/mlenv-test/eol:11.0-base\"\n")
	mustLock(t, dir)
	l := readLock(t, dir)
	remove := func(ref string) {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+reg.Host+"/v2/mlenv-test/eol/manifests/"+ref, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("delete %s: %v %v", ref, resp, err)
		}
	}
	remove("11.0-base")
	r := mlenv(t, dir, "verify", "--strict")
	if r.code != 0 || !strings.Contains(r.stderr, "warn tag 11.0-base: the tag no longer exists") || !strings.Contains(r.stderr, "[tag-gone]") {
		t.Errorf("tag deleted: exit %d\n%s", r.code, r.stderr)
	}
	remove(l.Image.Digest)
	r = mlenv(t, dir, "verify", "--json")
	var rep resolve.VerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("digest deleted: exit %d %v\n%s", r.code, err, r.stdout)
	}
	codes := map[string]string{}
	for _, c := range rep.Checks {
		codes[c.Code] = c.Status + ": " + c.Detail
	}
	if !strings.HasPrefix(codes[resolve.CodeDigestGone], "fail: ") || !strings.Contains(codes[resolve.CodeDigestGone], "mlenv run --from DIR") || !strings.HasPrefix(codes[resolve.CodeTagGone], "warn: ") {
		t.Errorf("digest deleted: checks %v", codes)
	}
}
