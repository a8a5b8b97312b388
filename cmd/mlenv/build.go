package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner"
)

type buildOptions struct {
	*globalOptions
	frozen bool
	json   bool
}

// builtEnv is one platform's environment as build and push print it.
type builtEnv struct {
	Platform string `json:"platform"`
	Env      string `json:"env"`
	Config   string `json:"env-config"`
	Packages int    `json:"packages"`
	Loaded   bool   `json:"loaded,omitempty"`
	Ref      string `json:"reference,omitempty"`
}

func newBuildCmd(g *globalOptions) *cobra.Command {
	o := buildOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the locked environment images and check their digests",
		Long: `Build the environment image of every locked platform, without running
anything: the locked base image with one layer holding the venv of the
locked packages. Each must have exactly the digests mlenv.lock records (env,
env-config); the engine's own platform's is loaded into the engine, so
that mlenv run starts at once.

Exit codes: 0 built as locked, 1 a build failed or differs, 2 bad input, 3 stale lock.`,
		Example: `  mlenv build
  mlenv build --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuild(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.frozen, "frozen", false, "use the lock as it is, even when mlenv.toml changed since")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the built environments as JSON")
	return cmd
}

func runBuild(ctx context.Context, o buildOptions, stdout, stderr io.Writer) error {
	p, l, err := lockedProject(o.globalOptions, o.frozen)
	if err != nil {
		return err
	}
	reg, err := newRegistry(o.globalOptions, stderr)
	if err != nil {
		return err
	}
	auth, err := indexAuth(p)
	if err != nil {
		return err
	}
	engine := &runner.Lazy{Auth: auth, Progress: progressOut(o.globalOptions, stderr)}
	defer engine.Close()
	built, err := resolve.BuildEnvs(ctx, l, resolve.Options{Registry: reg, Auth: auth, Pip: engine.PipVenv, Info: info(o.globalOptions, stderr)})
	if err != nil {
		return err
	}
	defer func() {
		for _, b := range built {
			b.Close()
		}
	}()
	var out []builtEnv
	for i, b := range built {
		pl := l.Image.Platforms[i]
		be := builtEnv{Platform: pl.Platform, Env: b.Digest.String(), Config: b.Config.String(), Packages: b.Packages}
		if loaded, err := engine.LoadNative(ctx, l, pl.Platform, b); err != nil {
			return err
		} else {
			be.Loaded = loaded
		}
		say(o.globalOptions, stderr, "Built %s %s (config %s, %d locked files)%s\n", pl.Platform, be.Env, be.Config, be.Packages, map[bool]string{true: ", loaded into the engine"}[be.Loaded])
		out = append(out, be)
	}
	return emit(o.json, stdout, out)
}
