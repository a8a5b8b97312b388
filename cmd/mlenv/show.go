package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
)

type showOptions struct {
	*globalOptions
	json, markdown, frozen bool
}

func newShowCmd(g *globalOptions) *cobra.Command {
	o := showOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the locked environment",
		Long:  "Show the locked environment at a glance: image, digests, CUDA, cuDNN, python, framework, minimum driver and packages.",
		Example: `  mlenv show
  mlenv show --json | jq .versions
  mlenv show --markdown >> README.md   # a table for the paper`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShow(o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the lock as JSON")
	cmd.Flags().BoolVar(&o.markdown, "markdown", false, "print a Markdown table")
	cmd.Flags().BoolVar(&o.frozen, "frozen", false, "show the lock as it is, even when mlenv.toml changed since (mlenv.toml is then not read)")
	return cmd
}

func runShow(o showOptions, stdout io.Writer) error {
	var l *lock.Lock
	var err error
	if o.frozen {
		l, err = readProjectLock(o.globalOptions)
	} else {
		_, l, err = lockedProject(o.globalOptions, false)
	}
	if err != nil {
		return err
	}
	switch {
	case o.json:
		return emit(true, stdout, l)
	case o.markdown:
		_, err = fmt.Fprint(stdout, l.Markdown())
	default:
		_, err = fmt.Fprint(stdout, l.Summary())
	}
	return err
}
