package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/lock/export"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner/archive"
)

type exportOptions struct {
	*globalOptions
	output   string
	platform string
	name     string
	// slurm
	runtime string
	sbatch  []string
	gres    bool
	from    string
	// k8s
	namespace    string
	nodeSelector []string
	tolerations  []string
	// k8s, slurm (pyxis, apptainer), compose
	code   string
	dirty  bool
	frozen bool
}

func newExportCmd(g *globalOptions) *cobra.Command {
	o := exportOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "export FORMAT",
		Short: "Export the lock for other tools: " + strings.Join(export.FormatNames(), ", "),
		Long: `Export the lock for other tools. Every export pins the image by digest and
installs exactly the locked files (hashes required, no dependency resolution)
into the same virtual environment mlenv run uses.

` + export.Help() + `
With [run] env-cache (and mlenv push), k8s, compose, devcontainer, apptainer
and slurm run the environment image by digest and install nothing.

With --output DIR the export and the files it needs (requirements.lock.txt,
the Dockerfile for compose) are written there; otherwise the main file goes to
stdout.`,
		Example: `  mlenv export requirements > requirements.lock.txt
  mlenv export dockerfile -o build/ && docker build build/
  mlenv export devcontainer -o .devcontainer/
  mlenv export k8s --name train | kubectl apply -f -
  mlenv export k8s --namespace ml --node-selector nvidia.com/gpu.present=true --toleration nvidia.com/gpu:NoSchedule
  mlenv export slurm --runtime pyxis --sbatch=--partition=gpu --sbatch=--time=2:00:00 -o .
  mlenv push --code && mlenv export k8s --code image    # the project image: code at [run] workdir
  mlenv export k8s --code pvc:paper-code:runs/1           # or a claim holding the project`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write the export and its companion files into this directory")
	cmd.Flags().StringVar(&o.platform, "platform", "", "the platform whose packages to export (default: the lock's first)")
	cmd.Flags().StringVar(&o.name, "name", "", "name of the job, service or container (default: [project] name)")
	f := cmd.Flags()
	f.BoolVar(&o.frozen, "frozen", false, "export the lock as it is, even when mlenv.toml changed since")
	f.StringVar(&o.code, "code", "", "k8s, compose, slurm: where the job's project code comes from: image (the project image, `mlenv push --code`) or pvc:CLAIM[:SUBPATH] (k8s)")
	f.BoolVar(&o.dirty, "dirty", false, "with --code image: the project image of the working tree's tracked files, as `mlenv push --code --dirty` pushes it")
	f.StringVar(&o.runtime, "runtime", "docker", "slurm: how the job runs the environment: "+strings.Join(export.Runtimes, ", "))
	f.StringArrayVar(&o.sbatch, "sbatch", nil, "slurm: one more sbatch option, e.g. --sbatch=--partition=gpu (repeatable; replaces mlenv's of the same name)")
	f.BoolVar(&o.gres, "gres", false, "slurm: ask for GPUs as --gres=gpu:N instead of --gpus=N")
	f.StringVar(&o.from, "from", "", "slurm --runtime apptainer: run the environment from this vendor archive directory on the cluster")
	f.StringVar(&o.namespace, "namespace", "", "k8s: the namespace of the Job")
	f.StringArrayVar(&o.nodeSelector, "node-selector", nil, "k8s: a node label KEY=VALUE the Job's node must have (repeatable)")
	f.StringArrayVar(&o.tolerations, "toleration", nil, "k8s: tolerate a node taint KEY[=VALUE][:EFFECT], e.g. nvidia.com/gpu:NoSchedule (repeatable)")
	return cmd
}

func runExport(ctx context.Context, o exportOptions, format string, stdout, stderr io.Writer) error {
	p, l, err := lockedProject(o.globalOptions, o.frozen)
	if err != nil {
		return err
	}
	if _, ok := l.Image.Platform(o.platform); o.platform != "" && !ok {
		return usageError{fmt.Errorf("--platform %s: the lock has %s: pick one of them, or add it to [image] platforms and run `mlenv lock`", o.platform, strings.Join(l.Image.PlatformNames(), ", "))}
	}
	name := o.name
	if name == "" {
		name = p.Spec.Project.Name
	}
	eo := export.Options{Platform: o.platform, Name: export.DNSName(name),
		Slurm: export.SlurmOptions{Runtime: o.runtime, Sbatch: o.sbatch, GRES: o.gres}}
	if o.from != "" {
		eo.Slurm.From = path.Join(o.from, archive.ImageDir) // the archive's OCI layout, on the cluster
	}
	if eo.K8s, err = export.ParseK8sOptions(o.namespace, o.nodeSelector, o.tolerations); err != nil {
		return usageError{err}
	}
	if eo.Code, err = exportCode(ctx, o, p, l, format, stderr); err != nil {
		return err
	}
	if o.output != "" {
		if eo.OutDir, eo.ProjectDir, err = export.OutputPaths(p.Spec.Dir, o.output); err != nil {
			return err
		}
	}
	files, err := export.Render(format, l, eo)
	if err != nil {
		return usageError{err}
	}
	if o.output == "" {
		if len(files.Order) > 1 && !o.quiet {
			fmt.Fprintf(stderr, "mlenv: %s also needs %s beside it: use --output DIR to write them all\n", files.Order[0], strings.Join(files.Order[1:], ", "))
		}
		_, err := io.WriteString(stdout, files.Content[files.Order[0]])
		return err
	}
	if err := os.MkdirAll(o.output, 0o755); err != nil {
		return err
	}
	for _, f := range files.Order {
		if err := os.WriteFile(filepath.Join(o.output, f), []byte(files.Content[f]), 0o644); err != nil {
			return err
		}
		if !o.quiet {
			fmt.Fprintf(stderr, "wrote %s\n", filepath.Join(o.output, f))
		}
	}
	return nil
}

// exportCode is where the export's job gets the project's code (--code):
// for image, the project image by the digest computed here, in [run]
// env-cache (warning when the registry does not have it yet).
func exportCode(ctx context.Context, o exportOptions, p *lock.Project, l *lock.Lock, format string, stderr io.Writer) (export.Code, error) {
	code, isImage, err := export.ParseCode(o.code)
	if err != nil {
		return code, usageError{err}
	}
	if o.code == "" && format == "k8s" && !o.quiet {
		fmt.Fprintf(stderr, "mlenv: the Job does not include the project's code (nothing puts it at %s): export with --code image (after `mlenv push --code`) or --code pvc:CLAIM\n", l.Run.Workdir)
	}
	if !isImage {
		return code, nil
	}
	if l.Run.EnvCache == "" {
		return code, usageError{fmt.Errorf("--code image runs the project image from [run] env-cache, and mlenv.toml sets none: set env-cache = \"REGISTRY/REPO\", run `mlenv lock` and `mlenv push --code`")}
	}
	platform := o.platform
	if platform == "" {
		platform = l.Image.Platforms[0].Platform
	}
	s, err := newServices(o.globalOptions, p, stderr)
	if err != nil {
		return code, err
	}
	defer s.Close()
	img, c, err := resolve.ProjectImage(ctx, l, platform, p.Spec.Dir, o.dirty, resolve.Options{Registry: s.reg, Auth: s.auth, Pip: s.engine.PipVenv})
	if err != nil {
		return code, err
	}
	defer c.Close()
	d, err := img.Digest()
	if err != nil {
		return code, err
	}
	code.Image = l.Run.EnvCache + "@" + d.String()
	switch has, err := resolve.Has(ctx, s.reg, code.Image); {
	case err != nil:
		fmt.Fprintf(stderr, "mlenv: warning: could not check that the registry has the project image %s (%v); `mlenv push --code` pushes it\n", code.Image, err)
	case !has:
		fmt.Fprintf(stderr, "mlenv: warning: the registry does not have the project image %s yet (commit %s): run `mlenv push --code` before the job starts\n", code.Image, c.Label())
	}
	return code, nil
}
