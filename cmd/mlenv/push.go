package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/resolve"
)

type pushOptions struct {
	*globalOptions
	frozen bool
	tag    string
	json   bool
	code   bool
	dirty  bool
}

// pushResult is what `mlenv push --json` prints.
type pushResult struct {
	Repository string     `json:"repository"`
	Index      string     `json:"index"`
	Tag        string     `json:"tag,omitempty"`
	Envs       []builtEnv `json:"environments"`
	// Project is the project image (--code).
	Project *projectImage `json:"project,omitempty"`
}

// projectImage is a pushed project image: the environment with the
// project's code at a commit.
type projectImage struct {
	Reference string `json:"reference"` // REPOSITORY@index digest
	// Platforms are each platform's image by manifest digest, as
	// `mlenv export --code image` names it.
	Platforms []resolve.PlatformReference `json:"platforms"`
	Commit    string                      `json:"commit"`
	Dirty     bool                        `json:"dirty,omitempty"`
	Files     int                         `json:"files"`
}

func newPushCmd(g *globalOptions) *cobra.Command {
	o := pushOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "push [REPOSITORY]",
		Short: "Push the locked environment images to a registry (an env-cache)",
		Long: `Build the environment image of every locked platform (as mlenv build),
check each against the lock, and push them to REPOSITORY (default: [run]
env-cache) as one index over the platforms, addressed by digest; a tag only
with --tag. Credentials are docker's (docker login). Other machines with
env-cache set pull the environment by its locked digest instead of
installing it.

Exit codes: 0 pushed, 1 a build or the push failed, 2 bad input, 3 stale lock.`,
		Example: `  mlenv push registry.example.com/team/envs
  mlenv push --tag paper-v1`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.frozen, "frozen", false, "use the lock as it is, even when mlenv.toml changed since")
	cmd.Flags().StringVar(&o.tag, "tag", "", "also tag the index")
	cmd.Flags().BoolVar(&o.json, "json", false, "print what was pushed as JSON")
	cmd.Flags().BoolVar(&o.code, "code", false, "also push the project image: the environment plus the git-tracked files at HEAD in [run] workdir")
	cmd.Flags().BoolVar(&o.dirty, "dirty", false, "with --code: take the tracked files as the working tree has them, uncommitted changes included")
	return cmd
}

func runPush(ctx context.Context, o pushOptions, args []string, stdout, stderr io.Writer) error {
	p, l, err := lockedProject(o.globalOptions, o.frozen)
	if err != nil {
		return err
	}
	repo := l.Run.EnvCache
	if len(args) == 1 {
		repo = args[0]
	}
	if repo == "" {
		return usageError{fmt.Errorf("push where? name a repository (`mlenv push registry.example.com/team/envs`) or set [run] env-cache in %s", p.Spec.Path)}
	}
	b, err := buildEnvs(ctx, o.globalOptions, p, l, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	index, err := resolve.PushEnvs(ctx, b.reg, b.lock, b.built, repo, o.tag)
	if err != nil {
		return err
	}
	res := pushResult{Repository: repo, Index: index, Tag: o.tag}
	for _, built := range b.built {
		res.Envs = append(res.Envs, builtEnvOf(built, repo))
		say(o.globalOptions, stderr, "Pushed %s %s@%s\n", built.Platform, repo, built.Digest)
	}
	say(o.globalOptions, stderr, "Index %s@%s\n", repo, index)
	if o.code {
		pushed, err := resolve.PushProject(ctx, b.reg, b.lock, b.built, p.Spec.Dir, repo, o.dirty)
		if err != nil {
			return err
		}
		res.Project = &projectImage{Reference: pushed.Reference, Platforms: pushed.Platforms, Commit: pushed.Code.Commit, Dirty: pushed.Code.Dirty, Files: pushed.Code.Files}
		dirty := ""
		if res.Project.Dirty {
			dirty = ", with uncommitted changes"
		}
		for _, pr := range pushed.Platforms {
			say(o.globalOptions, stderr, "Project image %s %s (commit %s%s, %d files in %s)\n", pr.Platform, pr.Reference, res.Project.Commit, dirty, res.Project.Files, b.lock.Run.Workdir)
		}
		say(o.globalOptions, stderr, "Project index %s\n", res.Project.Reference)
	}
	return emit(o.json, stdout, res)
}
