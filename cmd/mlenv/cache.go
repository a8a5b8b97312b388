package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

type cacheOptions struct {
	*globalOptions
	json    bool
	all     bool
	current bool
	dryRun  bool
}

func newCacheCmd(g *globalOptions) *cobra.Command {
	o := cacheOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or remove mlenv's environment images, pip-cache volumes and downloads",
		Long: `mlenv keeps each installed environment as a local image (mlenv-env:<key>,
labelled dev.mlenv.env), pip's cache as a named volume, and the locked files
it downloaded in your own cache directory ($XDG_CACHE_HOME/mlenv/files);
these commands show and remove them.`,
		Example: "  mlenv cache ls\n  mlenv cache prune",
		Args:    usageArgs(cobra.NoArgs),
	}
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List environment images and pip-cache volumes",
		Example: "  mlenv cache ls\n  mlenv cache ls --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCacheLs(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	ls.Flags().BoolVar(&o.json, "json", false, "print JSON")
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove this project's superseded environments (--current: its lock's too; --all: everything mlenv made)",
		Long: `Remove this project's superseded environments: those you last ran from this
project directory that its lock no longer has (an older lock's). The engine
frees each one's own layers; the layers other environments share (the base
image, the packages they have in common) stay. --current also removes the
environments of the current lock, and its pip-cache volume when it has one
of its own ([run] pip-cache other than the shared default). --all removes
every environment image and pip-cache volume mlenv made on the engine, other
users' too. What a container uses is skipped. Downloaded locked files and
known layer digests no build used for 30 days are removed (--all: every
one; each build that uses one keeps it another 30 days).`,
		Example: "  mlenv cache prune --dry-run\n  mlenv cache prune\n  mlenv cache prune --current\n  mlenv cache prune --all",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCachePrune(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	prune.Flags().BoolVar(&o.all, "all", false, "remove every environment image and pip-cache volume mlenv made on this engine")
	prune.Flags().BoolVar(&o.current, "current", false, "also remove the environments of this project's current lock")
	prune.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be removed, remove nothing")
	cmd.AddCommand(ls, prune)
	return cmd
}

func runCacheLs(ctx context.Context, o cacheOptions, stdout io.Writer) error {
	z := newEngine(o.globalOptions)
	defer z.Close()
	engine, err := z.Engine(ctx)
	if err != nil {
		return err
	}
	envs, vols, err := engine.Cache(ctx)
	if err != nil {
		return err
	}
	downloads, err := envimage.Cached()
	if err != nil {
		return err
	}
	var home userdir.Usage
	if dir, err := userdir.Home(); err == nil {
		if home, err = userdir.UsageOf(dir); err != nil {
			return err
		}
	}
	if o.json {
		return emit(true, stdout, map[string]any{"environments": envs, "volumes": vols, "downloads": downloads, "home": home})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tPLATFORM\tOWN\tSHARED\tLAST RUN\tPROJECT\tBASE")
	for _, e := range envs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Image, e.Platform, sizeOrDash(e.Own), sizeOrDash(e.Shared), lastRun(e.LastRun), orDash(e.Project), e.Base)
	}
	for _, v := range vols {
		fmt.Fprintf(tw, "volume %s\t\t\tpip cache\n", v.Name)
	}
	fmt.Fprintf(tw, "downloads %s\t\t%s\t%d locked files\n", downloads.Dir, units.HumanSize(float64(downloads.Size)), downloads.Files)
	if home.Dir != "" {
		fmt.Fprintf(tw, "home %s\t\t%s\tHOME of user = \"host\" runs, %d files (prune leaves it: it holds your tools' logins)\n", home.Dir, units.HumanSize(float64(home.Size)), home.Files)
	}
	return tw.Flush()
}

// sizeOrDash is a size, or "-" where the engine did not say.
func sizeOrDash(n int64) string {
	if n < 0 {
		return "-"
	}
	return units.HumanSize(float64(n))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lastRun is when an environment last ran for this user.
func lastRun(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

func runCachePrune(ctx context.Context, o cacheOptions, stderr io.Writer) error {
	po := runner.PruneOptions{All: o.all, DryRun: o.dryRun}
	if !o.all {
		dir, l, err := readProject(o.globalOptions)
		if err != nil {
			return fmt.Errorf("%w (or pass --all to prune everything mlenv made on this engine)", err)
		}
		po.Project, po.Current = dir, runner.EnvKeys(l)
		if o.current {
			po.Keys = po.Current
			if l.Run.PipCache != schema.DefaultPipCache {
				po.Volumes = []string{l.Run.PipCache}
			}
		}
	}
	z := newEngine(o.globalOptions)
	defer z.Close()
	engine, err := z.Engine(ctx)
	if err != nil {
		return err
	}
	verb := "removed"
	if o.dryRun {
		verb = "would remove"
	}
	err = engine.Prune(ctx, po, func(what string, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", what, err)
			return
		}
		say(o.globalOptions, stderr, "%s %s\n", verb, what)
	})
	if err != nil {
		return err
	}
	unused := downloadsKept
	if o.all {
		unused = 0
	}
	pruned, err := envimage.PruneCache(unused, o.dryRun)
	if pruned.Files > 0 {
		say(o.globalOptions, stderr, "%s %d downloaded files (%s) from %s\n", verb, pruned.Files, units.HumanSize(float64(pruned.Size)), pruned.Dir)
	}
	if err != nil {
		return err
	}
	digests, err := envimage.PruneLayerCache(unused, o.dryRun)
	if digests > 0 {
		say(o.globalOptions, stderr, "%s %d known layer digests no build used\n", verb, digests)
	}
	return err
}

// downloadsKept is how long `cache prune` keeps a downloaded locked file
// no build has used.
const downloadsKept = 30 * 24 * time.Hour
