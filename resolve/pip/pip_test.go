package pip

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

func TestMergePlatforms(t *testing.T) {
	spec := &schema.Spec{Pip: schema.Pip{IndexURL: "https://user:secret@pypi.example/simple", ExtraIndexURLs: []string{"http://127.0.0.1:8080/simple"}}}
	same := scriptPkg{Name: "Six", Version: "1.16.0", URL: "https://pypi.example/six.whl", Requested: true, Hashes: []string{"bb", "aa"}}
	per := map[string][]scriptPkg{
		"linux/amd64": {same, {Name: "numpy", Version: "2.0.0", URL: "http://127.0.0.1:8080/numpy-x86_64.whl", Hashes: []string{"11"}}},
		"linux/arm64": {same, {Name: "numpy", Version: "2.0.0", URL: "http://127.0.0.1:8080/numpy-aarch64.whl", Hashes: []string{"22"}}},
	}
	got := mergePlatforms(per, spec, []lock.Dist{{Name: "numpy", Version: "1.26.4"}})
	want := []lock.Package{
		{Name: "numpy", Version: "2.0.0", Index: "http://127.0.0.1:8080/simple", Hashes: []string{"sha256:11"}, Platforms: []string{"linux/amd64"}, Replaces: "1.26.4", URL: "http://127.0.0.1:8080/numpy-x86_64.whl"},
		{Name: "numpy", Version: "2.0.0", Index: "http://127.0.0.1:8080/simple", Hashes: []string{"sha256:22"}, Platforms: []string{"linux/arm64"}, Replaces: "1.26.4", URL: "http://127.0.0.1:8080/numpy-aarch64.whl"},
		{Name: "six", Version: "1.16.0", Requested: true, Index: "https://pypi.example/simple", Hashes: []string{"sha256:aa", "sha256:bb"}, URL: "https://pypi.example/six.whl"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged:\n%+v\nwant:\n%+v", got, want)
	}
}

func TestCrossFlags(t *testing.T) {
	native := &scriptResult{Python: "3.11.2", Implementation: "cpython", ABI: "cp311"}
	c, err := crossFlags("linux/arm64", native)
	if err != nil {
		t.Fatal(err)
	}
	tags := c["platforms"].([]string)
	if c["python_version"] != "3.11" || c["implementation"] != "cp" || c["abi"] != "cp311" ||
		tags[0] != "manylinux_2_40_aarch64" || tags[len(tags)-1] != "linux_aarch64" {
		t.Errorf("cross flags for arm64: %v", c)
	}
	if _, err := crossFlags("linux/riscv64", native); err == nil || !strings.Contains(err.Error(), "lock on a linux/riscv64 machine") {
		t.Errorf("riscv64: %v", err)
	}
}

func TestParseScriptResult(t *testing.T) {
	in := Input{Spec: &schema.Spec{}, Image: lock.Image{Repository: "example/python", Digest: "sha256:00"}}
	ok := &task.Result{Stdout: []byte("pip chatter\n{\"python\": \"3.11.2\", \"packages\": [{\"name\": \"six\", \"version\": \"1.16.0\"}]}\n")}
	r, err := parseScriptResult(in, ok)
	if err != nil || r.Python != "3.11.2" || len(r.Packages) != 1 {
		t.Errorf("result: %+v, %v", r, err)
	}
	garbage := &task.Result{ExitCode: 1, Stdout: []byte("Traceback"), Stderr: []byte("line 1\nSyntaxError: bad")}
	if _, err := parseScriptResult(in, garbage); err == nil || !strings.Contains(err.Error(), "SyntaxError: bad") {
		t.Errorf("no JSON: %v", err)
	}
	nopip := &task.Result{Stdout: []byte(`{"python": "3.9.2", "error": {"Kind": "nopip", "Message": ""}}`)}
	var np *NoPythonError
	if _, err := parseScriptResult(in, nopip); !errors.As(err, &np) || np.Python != "3.9.2" {
		t.Errorf("no pip: %v", err)
	}
	conflict := &task.Result{Stdout: []byte(`{"error": {"Kind": "conflict", "Message": "torch 2.1 needs numpy<2"}}`)}
	if _, err := parseScriptResult(in, conflict); err == nil || !strings.Contains(err.Error(), "the image's own packages need other versions") {
		t.Errorf("conflict: %v", err)
	}
}

func TestLogicalLines(t *testing.T) {
	text := "# comment\nnumpy>=1.26 \\\n  ,<2  # inline comment\n\r\ntorch==2.1.0+cu121\r\n\n  \nrequests\\\n[socks]\n"
	got := logicalLines(text)
	want := []logicalLine{{2, "numpy>=1.26   ,<2"}, {5, "torch==2.1.0+cu121"}, {8, "requests[socks]"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("logical lines: %+v, want %+v", got, want)
	}
}
