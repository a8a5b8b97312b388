package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
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
	b, err := buildEnvs(ctx, o.globalOptions, p, l, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	var out []builtEnv
	for _, built := range b.built {
		be := builtEnvOf(built, "")
		loaded, err := b.engine.LoadNative(ctx, b.lock, built.Platform, built)
		if err != nil {
			return err
		}
		be.Loaded = loaded
		loadedNote := ""
		if be.Loaded {
			loadedNote = ", loaded into the engine"
		}
		say(o.globalOptions, stderr, "Built %s %s (config %s, %d locked files)%s\n", be.Platform, be.Env, be.Config, be.Packages, loadedNote)
		out = append(out, be)
	}
	return emit(o.json, stdout, out)
}

func builtEnvOf(b *envimage.Built, repo string) builtEnv {
	be := builtEnv{Platform: b.Platform, Env: b.Digest.String(), Config: b.Config.String(), Packages: b.Packages}
	if repo != "" {
		be.Ref = repo + "@" + be.Env
	}
	return be
}

// builds is every locked platform's environment, built and checked
// against the lock, with what built them.
type builds struct {
	*services
	lock  *lock.Lock
	built []*envimage.Built
}

func (b *builds) close() {
	for _, built := range b.built {
		built.Close()
	}
	b.services.Close()
}

// buildEnvs builds the project's locked environments (resolve.BuildEnvs).
func buildEnvs(ctx context.Context, g *globalOptions, p *lock.Project, l *lock.Lock, stderr io.Writer) (*builds, error) {
	s, err := newServices(g, p, stderr)
	if err != nil {
		return nil, err
	}
	built, err := resolve.BuildEnvs(ctx, l, resolve.Options{Registry: s.reg, Auth: s.auth, Pip: s.engine.PipVenv, Info: info(g, stderr), Phases: phases(g, stderr)})
	if err != nil {
		s.Close()
		return nil, err
	}
	return &builds{services: s, lock: l, built: built}, nil
}
