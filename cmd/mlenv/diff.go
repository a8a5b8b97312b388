package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

type diffOptions struct {
	*globalOptions
	git  string
	json bool
}

func newDiffCmd(g *globalOptions) *cobra.Command {
	o := diffOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "diff [OLD NEW]",
		Short: "Show what changed between two locks",
		Long:  "Show what changed in the image, versions and packages between two lock files, or between the lock at a git revision and the one in the working tree.",
		Example: `  mlenv diff old/mlenv.lock mlenv.lock
  mlenv diff --git HEAD~1          # the committed lock one commit ago vs now
  mlenv diff --git v1.0 --json`,
		Args: usageArgs(cobra.MaximumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.git, "git", "", "compare the lock at this git revision with the working tree's")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the differences as JSON")
	return cmd
}

func runDiff(o diffOptions, args []string, stdout io.Writer) error {
	var old, cur *lock.Lock
	var err error
	switch {
	case o.git != "" && len(args) == 0:
		old, cur, err = gitLocks(o)
	case o.git == "" && len(args) == 2:
		if old, err = lock.ReadFile(args[0]); err == nil {
			cur, err = lock.ReadFile(args[1])
		}
	default:
		return usageError{errors.New("give two lock files, or --git REV")}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return schema.BadInput(fmt.Errorf("%w: give two lock files that exist, or --git REV", err))
	}
	if err != nil {
		return err
	}
	d := lock.Compare(old, cur)
	if o.json {
		return emit(true, stdout, d)
	}
	_, err = fmt.Fprint(stdout, d.Format())
	return err
}

// gitLocks reads the project's lock at a revision and in the working tree.
func gitLocks(o diffOptions) (*lock.Lock, *lock.Lock, error) {
	p, err := openProject(o.globalOptions)
	if err != nil {
		return nil, nil, err
	}
	old, err := lock.ReadGit(p.LockPath, o.git)
	if err != nil {
		return nil, nil, err
	}
	cur, err := lock.ReadFile(p.LockPath)
	return old, cur, err
}
