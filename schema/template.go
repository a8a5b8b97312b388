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
	if t.Ref != "" {
		fmt.Fprintf(&b, "ref = %q              # one exact image (tag or @sha256 digest)\n", t.Ref)
	} else {
		fmt.Fprintf(&b, "family  = %q          # %s\n", t.Family, strings.Join(t.Families, " | "))
		if v := VersionConstraint(t.Version); v != "" {
			fmt.Fprintf(&b, "version = %q           # semver constraint on the framework version\n", v)
		} else {
			b.WriteString("# version = \"~2.1\"       # semver constraint on the framework version\n")
		}
	}
	if t.CUDA != "" {
		fmt.Fprintf(&b, "cuda = %q\n", t.CUDA)
	} else {
		b.WriteString("# cuda    = \">=12.1\"     # CUDA constraint, or \"none\" for a CPU image\n")
	}
	b.WriteString("# cudnn   = \"8\"\n# variant = \"runtime\"     # runtime | devel (pytorch, cuda)\n")
	b.WriteString("platforms = [\"linux/amd64\"]\n\n[pip]\n")
	if t.Requirements != "" {
		fmt.Fprintf(&b, "requirements = %q\n", t.Requirements)
	}
	b.WriteString("# packages = [\"numpy>=1.26\"]\n# index-url = \"https://pypi.org/simple\"\n# extra-index-urls = [\"https://download.pytorch.org/whl/cu121\"]\n\n")
	b.WriteString("[run]\n# gpus    = \"auto\"           # all | none | auto | a count | [\"0\", \"1\"]\n# workdir = \"/src\"           # the project directory is mounted here\nipc = \"host\"\n# shm-size = \"8g\"\n# mounts  = [\"./data:/data:ro\"]\n# env     = { WANDB_MODE = \"offline\" }\n# command = [\"python\", \"train.py\"]\n# user    = \"host\"           # write files as yourself\n")
	return b.String()
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
