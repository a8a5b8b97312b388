package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/runner"
)

type cacheOptions struct {
	*globalOptions
	json bool
}

func newCacheCmd(g *globalOptions) *cobra.Command {
	o := cacheOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or remove mlenv's environment images and pip-cache volumes",
		Long: `mlenv keeps each installed environment as a local image (mlenv-env:<key>,
labelled dev.mlenv.env) and pip's cache as a named volume; these commands
show and remove them.`,
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
		Use:     "prune",
		Short:   "Remove every environment image and pip-cache volume mlenv made",
		Example: "  mlenv cache prune",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCachePrune(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	cmd.AddCommand(ls, prune)
	return cmd
}

// listCache connects to the engine and lists what mlenv made there.
func listCache(ctx context.Context) (*runner.Engine, []runner.CachedEnv, []runner.CachedVolume, error) {
	engine, err := runner.Connect(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	envs, vols, err := engine.Cache(ctx)
	if err != nil {
		engine.Close()
		return nil, nil, nil, err
	}
	return engine, envs, vols, nil
}

func runCacheLs(ctx context.Context, o cacheOptions, stdout io.Writer) error {
	engine, envs, vols, err := listCache(ctx)
	if err != nil {
		return err
	}
	defer engine.Close()
	if o.json {
		return emit(true, stdout, map[string]any{"environments": envs, "volumes": vols})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tPLATFORM\tSIZE\tBASE")
	for _, e := range envs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Image, e.Platform, units.HumanSize(float64(e.Size)), e.Base)
	}
	for _, v := range vols {
		fmt.Fprintf(tw, "volume %s\t\t\tpip cache\n", v.Name)
	}
	return tw.Flush()
}

func runCachePrune(ctx context.Context, o cacheOptions, stderr io.Writer) error {
	engine, err := runner.Connect(ctx)
	if err != nil {
		return err
	}
	defer engine.Close()
	return engine.Prune(ctx, func(what string) { say(o.globalOptions, stderr, "removed %s\n", what) })
}
