package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/resolve/family"
	"github.com/mlenv/mlenv/schema"
)

type initOptions struct {
	*globalOptions
	framework string
	version   string
	cuda      string
	ref       string
	name      string
	force     bool
}

func newInitCmd(g *globalOptions) *cobra.Command {
	o := initOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented mlenv.toml",
		Long: `Write a commented mlenv.toml for a framework and version (or an explicit
image), taking pip packages from requirements.txt when the directory has one.
An existing mlenv.toml is kept unless --force.`,
		Example: `  mlenv init --framework pytorch --version 2.1
  mlenv init --framework tensorflow --version 2.15 --cuda ">=12"
  mlenv init --ref nvcr.io/nvidia/pytorch:24.03-py3`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.framework, "framework", "pytorch", "image family: "+strings.Join(family.Names(), ", "))
	f.StringVar(&o.version, "version", "", `framework version: "2.1" means ~2.1; any semver constraint works`)
	f.StringVar(&o.cuda, "cuda", "", "CUDA constraint")
	f.StringVar(&o.ref, "ref", "", "an explicit image reference instead of a family")
	f.StringVar(&o.name, "name", "", "project name (default: the directory's name)")
	f.BoolVar(&o.force, "force", false, "overwrite an existing mlenv.toml")
	return cmd
}

func runInit(o initOptions, stderr io.Writer) error {
	path := o.file
	if path == "" {
		path = schema.FileName
	}
	if _, err := os.Stat(path); err == nil && !o.force {
		return usageError{fmt.Errorf("%s already exists: edit it, or pass --force to replace it", path)}
	}
	if o.ref == "" && family.Families[o.framework] == nil {
		return usageError{fmt.Errorf("unknown --framework %q: use one of %s, or --ref IMAGE", o.framework, strings.Join(family.Names(), ", "))}
	}
	dir := filepath.Dir(path)
	abs, _ := filepath.Abs(dir)
	name := o.name
	if name == "" {
		name = filepath.Base(abs)
	}
	reqs := ""
	if _, err := os.Stat(filepath.Join(dir, "requirements.txt")); err == nil {
		reqs = "requirements.txt"
	}
	content := initTemplate(o, name, reqs)
	if _, err := schema.Parse(path, []byte(content), family.Validate); err != nil {
		return usageError{fmt.Errorf("the flags make an invalid mlenv.toml: %w", err)}
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(stderr, "wrote %s", path)
		if reqs != "" {
			fmt.Fprintf(stderr, " (pip packages from %s)", reqs)
		}
		fmt.Fprintln(stderr, "; next: mlenv lock")
	}
	return nil
}

func initTemplate(o initOptions, name, reqs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# mlenv.toml: what this project's environment is. `mlenv lock` pins it into\n# mlenv.lock (commit both); `mlenv run` runs from the lock.\n\n[project]\nname = %q\n\n[image]\n", name)
	if o.ref != "" {
		fmt.Fprintf(&b, "ref = %q              # one exact image (tag or @sha256 digest)\n", o.ref)
	} else {
		fmt.Fprintf(&b, "family  = %q          # %s\n", o.framework, strings.Join(family.Names(), " | "))
		if v := versionConstraint(o.version); v != "" {
			fmt.Fprintf(&b, "version = %q           # semver constraint on the framework version\n", v)
		} else {
			b.WriteString("# version = \"~2.1\"       # semver constraint on the framework version\n")
		}
	}
	if o.cuda != "" {
		fmt.Fprintf(&b, "cuda = %q\n", o.cuda)
	} else {
		b.WriteString("# cuda    = \">=12.1\"     # CUDA constraint, or \"none\" for a CPU image\n")
	}
	b.WriteString("# cudnn   = \"8\"\n# variant = \"runtime\"     # runtime | devel (pytorch, cuda)\n")
	b.WriteString("platforms = [\"linux/amd64\"]\n\n[pip]\n")
	if reqs != "" {
		fmt.Fprintf(&b, "requirements = %q\n", reqs)
	}
	b.WriteString("# packages = [\"numpy>=1.26\"]\n# index-url = \"https://pypi.org/simple\"\n# extra-index-urls = [\"https://download.pytorch.org/whl/cu121\"]\n\n")
	b.WriteString("[run]\n# gpus    = \"auto\"           # all | none | auto | a count | [\"0\", \"1\"]\n# workdir = \"/src\"           # the project directory is mounted here\nipc = \"host\"\n# shm-size = \"8g\"\n# mounts  = [\"./data:/data:ro\"]\n# env     = { WANDB_MODE = \"offline\" }\n# command = [\"python\", \"train.py\"]\n# user    = \"host\"           # write files as yourself\n")
	return b.String()
}

// versionConstraint turns "2.1" into "~2.1"; a constraint with an operator
// is kept as written.
func versionConstraint(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v[:1], "<>=~^!*") || strings.Contains(v, ",") {
		return v
	}
	return "~" + v
}
