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
	content := schema.Template{Name: name, Ref: o.ref, Family: o.framework, Families: family.Names(), Version: o.version, CUDA: o.cuda, Requirements: reqs}.Render()
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
