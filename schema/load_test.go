package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

func parse(t *testing.T, src string) (*schema.Spec, error) {
	t.Helper()
	return schema.Parse("mlenv.toml", []byte(src))
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // file:line: key: message, as the user sees it
		hint string
	}{
		{"malformed", "[image]\nfamily = pytorch\n", "mlenv.toml:2: image.family: expected value but found \"pytorch\" instead", ""},
		{"unclosed table", "[image\nfamily = \"pytorch\"\n", "mlenv.toml:2: expected '.' or ']' to end table name", ""},
		{"typo with hint", "[image]\nfamily = \"pytorch\"\nverison = \"~2.1\"\n", "mlenv.toml:3: image.verison: unknown key", `did you mean "image.version"?`},
		{"unknown table", "[images]\nfamily = \"pytorch\"\n", "mlenv.toml:1: images: unknown table or key", `did you mean "image"?`},
		{"wrong type", "[image]\nfamily = \"pytorch\"\nplatforms = \"linux/amd64\"\n", "mlenv.toml:3: image.platforms: a list like [\"linux/amd64\"], not a string", ""},
		{"invalid constraint", "[image]\nfamily = \"pytorch\"\nversion = \">=two\"\n", "mlenv.toml:3: image.version: invalid version constraint \">=two\"", "semver constraints"},
		{"family and ref", "[image]\nfamily = \"pytorch\"\nref = \"pytorch/pytorch:2.1.2\"\n", "mlenv.toml:3: image.ref: family and ref are both set", "keep one"},
		{"neither", "[project]\nname = \"x\"\n[image]\nplatforms = [\"linux/amd64\"]\n", "mlenv.toml:3: image: neither family nor ref is set", "family ="},
		{"neither, no table", "[project]\nname = \"x\"\n", "mlenv.toml: image: neither family nor ref is set", ""},
		{"bad platform", "[image]\nfamily = \"pytorch\"\nplatforms = [\"linux-amd64\"]\n", "mlenv.toml:3: image.platforms: invalid platform \"linux-amd64\"", "os/arch"},
		{"bad ref", "[image]\nref = \"Pytorch/pytorch::x\"\n", "mlenv.toml:2: image.ref: invalid reference", ""},
		{"bad resolution", "[image]\nfamily = \"cuda\"\nresolution = \"newest\"\n", "mlenv.toml:3: image.resolution: invalid resolution", "highest"},
		{"relative workdir", "[image]\nfamily = \"cuda\"\n[run]\nworkdir = \"src\"\n", "mlenv.toml:4: run.workdir: workdir \"src\" is not absolute", ""},
		{"bad gpus type", "[image]\nfamily = \"cuda\"\n[run]\ngpus = true\n", "mlenv.toml:4: run.gpus:", ""},
		{"bad env name", "[image]\nfamily = \"cuda\"\n[run]\nenv = { \"A-B\" = \"1\" }\n", "mlenv.toml:4: run.env.A-B: invalid environment variable name", ""},
		{"option as package", "[image]\nfamily = \"cuda\"\n[pip]\npackages = [\"--index-url=http://x\"]\n", "mlenv.toml:4: pip.packages: \"--index-url=http://x\" is not a requirement", ""},
		{"bad mount", "[image]\nfamily = \"cuda\"\n[run]\nmounts = [\"./data\"]\n", "mlenv.toml:4: run.mounts: invalid mount", ""},
		{"index credentials redacted", "[image]\nfamily = \"cuda\"\n[pip]\nindex-url = \"ftp://user:s3cret@host/simple\"\n", "mlenv.toml:4: pip.index-url: invalid index URL \"ftp://host/simple\"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error:\n%s\nwant prefix:\n%s", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("error %q lacks hint %q", err, tc.hint)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks a credential: %s", err)
			}
			var se *schema.Error
			var ses schema.Errors
			if !errors.As(err, &se) && !errors.As(err, &ses) {
				t.Errorf("error is %T, want a schema error", err)
			}
		})
	}
}

func TestEveryProblemReported(t *testing.T) {
	_, err := parse(t, "[image]\nfamily = \"cuda\"\nverison = \"1\"\nplatforms = [\"x\"]\n[run]\nworkdir = \"rel\"\n")
	var es schema.Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	for i, line := range []int{3, 4, 6} {
		if es[i].Line != line {
			t.Errorf("problem %d at line %d, want %d", i, es[i].Line, line)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := parse(t, "[image]\nfamily = \"pytorch\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Image.Platforms[0] != "linux/amd64" || s.Image.Resolution != "highest" || s.Run.Workdir != "/src" ||
		s.Run.PipCache != "mlenv-pip-cache" || s.Run.GPUs != "auto" || s.Run.Network != "bridge" {
		t.Errorf("defaults not applied: %+v %+v", s.Image, s.Run)
	}
}

func TestGPUsForms(t *testing.T) {
	for src, want := range map[string]string{`"all"`: "all", `2`: "count", `["0", 1]`: "devices", `"none"`: "none"} {
		s, err := parse(t, "[image]\nfamily = \"cuda\"\n[run]\ngpus = "+src+"\n")
		if err != nil {
			t.Fatalf("gpus = %s: %v", src, err)
		}
		if s.Run.GPUs.Mode() != want {
			t.Errorf("gpus = %s: mode %s, want %s", src, s.Run.GPUs.Mode(), want)
		}
	}
}

// TestInputHashIgnoresFormatting: reordering keys and tables, comments,
// whitespace and spelling out a default do not change the input hash;
// changing a value does, in the section it belongs to.
func TestInputHashIgnoresFormatting(t *testing.T) {
	a := `[image]
family = "pytorch"
version = "~2.1"
platforms = ["linux/arm64", "linux/amd64"]
[run]
env = { B = "2", A = "1" }
`
	b := `# the same, reformatted
[run]
env.A = "1"
env.B = "2"
workdir = "/src"     # the default, spelt out

[image]
platforms = [ "linux/amd64",
              "linux/arm64" ]
version   = "~2.1"
family    = "pytorch"
`
	ha := hashes(t, a)
	if hb := hashes(t, b); ha != hb {
		t.Errorf("reformatted spec hashes differ:\n%+v\n%+v", ha, hb)
	}
	hc := hashes(t, strings.Replace(a, "~2.1", "~2.2", 1))
	if hc.Input == ha.Input || hc.Image == ha.Image || hc.Run != ha.Run || hc.Pip != ha.Pip {
		t.Errorf("changing [image] version: %+v vs %+v", hc, ha)
	}
}

func hashes(t *testing.T, src string) schema.Hashes {
	t.Helper()
	s, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRequirementsContentIsHashed(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "mlenv.toml")
	os.WriteFile(spec, []byte("[image]\nfamily = \"cuda\"\n[pip]\nrequirements = \"requirements.txt\"\n"), 0o644)
	req := filepath.Join(dir, "requirements.txt")
	os.WriteFile(req, []byte("numpy==1.26.4\n"), 0o644)
	load := func() schema.Hashes {
		s, err := schema.Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Hashes()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1 := load()
	os.WriteFile(req, []byte("numpy==2.0.0\n"), 0o644)
	if h2 := load(); h2.Pip == h1.Pip || h2.Image != h1.Image {
		t.Errorf("requirements change: pip %s → %s, image %s → %s", h1.Pip, h2.Pip, h1.Image, h2.Image)
	}
	os.Remove(req)
	s, _ := schema.Load(spec)
	if _, err := s.Hashes(); err == nil || !strings.Contains(err.Error(), "mlenv.toml:4: pip.requirements: cannot read requirements file") {
		t.Errorf("missing requirements file: %v", err)
	}
}

func TestRequirementsOutsideProjectNeedOptIn(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "project")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(root, "outside.txt"), []byte("numpy\n"), 0o644)
	os.Symlink(filepath.Join(root, "outside.txt"), filepath.Join(dir, "link.txt"))
	for _, req := range []string{"../outside.txt", "link.txt"} {
		spec := filepath.Join(dir, "mlenv.toml")
		os.WriteFile(spec, []byte("[image]\nfamily = \"cuda\"\n[pip]\nrequirements = \""+req+"\"\n"), 0o644)
		s, err := schema.Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Hashes(); err == nil || !strings.Contains(err.Error(), "outside the project directory") || !strings.Contains(err.Error(), "allow-outside-paths") {
			t.Errorf("requirements %s: %v", req, err)
		}
		os.WriteFile(spec, []byte("[project]\nallow-outside-paths = true\n[image]\nfamily = \"cuda\"\n[pip]\nrequirements = \""+req+"\"\n"), 0o644)
		s, _ = schema.Load(spec)
		if _, err := s.Hashes(); err != nil {
			t.Errorf("requirements %s with allow-outside-paths: %v", req, err)
		}
	}
}

// TestEveryTypeErrorAtOnce: four mistyped values are reported together,
// sorted by line, the same way every time, in the user's words, with the
// unknown keys beside them.
func TestEveryTypeErrorAtOnce(t *testing.T) {
	src := "[image]\nfamily = \"pytorch\"\nversion = 2.1\nplatforms = \"linux/amd64\"\nvarient = \"runtime\"\n[pip]\npackages = [\"numpy\", 2]\n[run]\nworkdir = true\n"
	want := []string{
		`mlenv.toml:3: image.version: a string like "~2.1", not a number`,
		`mlenv.toml:4: image.platforms: a list like ["linux/amd64"], not a string`,
		`mlenv.toml:5: image.varient: unknown key`,
		`mlenv.toml:7: pip.packages: a list of strings like ["numpy>=1.26"]; item 2 is a number`,
		`mlenv.toml:9: run.workdir: a string like "/src", not true/false`,
	}
	for range 5 {
		_, err := schema.Parse("mlenv.toml", []byte(src))
		var errs schema.Errors
		if !errors.As(err, &errs) || len(errs) != len(want) {
			t.Fatalf("err = %v, want %d problems", err, len(want))
		}
		for i, e := range errs {
			if got := strings.SplitN(e.Error(), "\n", 2)[0]; got != want[i] {
				t.Errorf("problem %d = %q, want %q", i, got, want[i])
			}
		}
	}
}
