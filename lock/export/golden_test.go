package export

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the formats render now")

// goldenLocks are the locks every format is rendered from: one that
// installs, the same with an env-cache (nothing to install), and one
// without packages.
func goldenLocks() map[string]*lock.Lock {
	h := "sha256:" + strings.Repeat("a", 64)
	env := "sha256:" + strings.Repeat("e", 64)
	run := lock.Run{Workdir: "/src", GPUs: "1", IPC: "host", ShmSize: "8g", Network: "bridge", PipCache: "mlenv-pip-cache",
		Mounts: []string{"./data:/data:ro"}, Env: map[string]string{"WANDB_MODE": "offline"}, Command: []string{"python", "train.py"}}
	installs := &lock.Lock{
		Image: lock.Image{Reference: "pytorch/pytorch", Repository: "index.docker.io/pytorch/pytorch", Tag: "2.1.2-cuda12.1-cudnn8-runtime", Digest: h,
			Platforms: []lock.Platform{{Platform: "linux/amd64", Digest: h, Config: h, EnvDigest: env, EnvConfig: h}}},
		Packages: []lock.Package{{Name: "six", Version: "1.16.0", Requested: true, Index: "https://pypi.org/simple", Hashes: []string{h}}},
		Run:      run,
	}
	cached := *installs
	cached.Run.EnvCache = "registry.example/team/envs"
	base := *installs
	base.Packages = nil
	base.Run.GPUs = "auto"
	return map[string]*lock.Lock{"installs": installs, "env-cache": &cached, "no-packages": &base,
		"code-image": installs, "code-pvc": installs}
}

// goldenCode is where the code-* goldens take the project's code from.
var goldenCode = map[string]Code{
	"code-image": {Image: "registry.example/team/envs@sha256:" + strings.Repeat("c", 64)},
	"code-pvc":   {Claim: "paper-code", SubPath: "runs/1"},
}

// TestGolden renders every format of the table from each golden lock and
// compares with testdata/NAME/FORMAT.golden (the files in order, each
// under a "-- name --" line; an error as "-- error --"). Run with
// -update after a deliberate change, and read the diff.
func TestGolden(t *testing.T) {
	for name, l := range goldenLocks() {
		for _, f := range Formats {
			t.Run(name+"/"+f.Name, func(t *testing.T) {
				got := renderArchive(f.Name, l, goldenCode[name])
				path := filepath.Join("testdata", name, f.Name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./lock/export -run TestGolden -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s:\n%s", f.Name, path, got)
				}
			})
		}
	}
}

func renderArchive(format string, l *lock.Lock, code Code) string {
	files, err := Render(format, l, Options{Name: "paper", Code: code})
	if err != nil {
		return "-- error --\n" + err.Error() + "\n"
	}
	var b strings.Builder
	for _, name := range files.Order {
		b.WriteString("-- " + name + " --\n" + files.Content[name])
	}
	return b.String()
}

// TestHelpListsEveryFormat: the CLI's help comes from the table.
func TestHelpListsEveryFormat(t *testing.T) {
	help := Help()
	for _, f := range Formats {
		if !strings.Contains(help, "  "+f.Name+" ") || f.Doc == "" {
			t.Errorf("help lacks %s:\n%s", f.Name, help)
		}
		if _, err := Lookup(f.Name); err != nil {
			t.Error(err)
		}
	}
}
