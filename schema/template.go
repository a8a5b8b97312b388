package schema

import (
	"fmt"
	"strings"
)

// Template says what `mlenv init` writes.
type Template struct {
	Name string // [project] name
	// Either Ref, one exact image, or Family with Version (a semver
	// constraint, or a bare version meaning ~version) among Families.
	Ref      string
	Family   string
	Families []string
	Version  string
	CUDA     string
	// Requirements is a requirements file beside mlenv.toml to take pip
	// packages from ("" when there is none).
	Requirements string
}

// Render is a commented mlenv.toml: what the template sets, and the
// common settings it does not, commented out with their syntax.
func (t Template) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# mlenv.toml: what this project's environment is. `mlenv lock` pins it into\n# mlenv.lock (commit both); `mlenv run` runs from the lock.\n\n[project]\nname = %q\n\n[image]\n", t.Name)
	version := "semver constraint on the family's version (CUDA's for cuda)"
	if t.Ref != "" {
		line(&b, fmt.Sprintf("ref = %q", t.Ref), "one exact image (tag or @sha256 digest)")
	} else {
		line(&b, fmt.Sprintf("family = %q", t.Family), strings.Join(t.Families, " | "))
		if v := VersionConstraint(t.Version); v != "" {
			line(&b, fmt.Sprintf("version = %q", v), version)
		} else {
			line(&b, `# version = "~2.1"`, version)
		}
	}
	if t.CUDA != "" {
		fmt.Fprintf(&b, "cuda = %q\n", t.CUDA)
	} else {
		line(&b, `# cuda = ">=12.1"`, `CUDA constraint, or "none" for a CPU image`)
	}
	line(&b, `# cudnn = "8"`, "")
	line(&b, `# variant = "runtime"`, "runtime | devel (pytorch, cuda)")
	b.WriteString("platforms = [\"linux/amd64\"]\n\n[pip]\n")
	if t.Requirements != "" {
		fmt.Fprintf(&b, "requirements = %q\n", t.Requirements)
	}
	b.WriteString("# packages = [\"numpy>=1.26\"]\n# index-url = \"https://pypi.org/simple\"\n# extra-index-urls = [\"https://download.pytorch.org/whl/cu121\"]\n\n[run]\n")
	line(&b, `# gpus = "auto"`, `all | none | auto | a count | ["0", "1"]`)
	line(&b, `# workdir = "/src"`, "the project directory is mounted here")
	line(&b, `ipc = "host"`, "")
	line(&b, `# shm-size = "8g"`, "")
	line(&b, `# mounts = ["./data:/data:ro"]`, "")
	line(&b, `# env = { WANDB_MODE = "offline" }`, "")
	line(&b, `# command = ["python", "train.py"]`, "")
	line(&b, `# ports = ["8888:8888"]`, "published on 127.0.0.1 (ssh -L from your machine)")
	line(&b, `user = "host"`, "files the run writes are yours; HOME is kept")
	return b.String()
}

// commentColumn is where the template's comments start.
const commentColumn = 32

// line writes one template line, its comment (if any) at commentColumn.
func line(b *strings.Builder, text, comment string) {
	b.WriteString(text)
	if comment != "" {
		b.WriteString(strings.Repeat(" ", max(1, commentColumn-len(text))) + "# " + comment)
	}
	b.WriteString("\n")
}

// VersionConstraint turns "2.1" into "~2.1"; a constraint with an
// operator is kept as written.
func VersionConstraint(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v[:1], "<>=~^!*") || strings.Contains(v, ",") {
		return v
	}
	return "~" + v
}
