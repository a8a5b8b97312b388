package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/resolve"
)

type verifyOptions struct {
	*globalOptions
	offline bool
	strict  bool
	deep    bool
	json    bool
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := verifyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check in CI that the lock still holds",
		Long: `Check that the lock still holds.

Offline: the lock is well-formed and fresh (mlenv.toml unchanged since).
Online: every locked digest still exists in its registry; a tag that now
points elsewhere is reported (a failure with --strict). --deep builds the
environment afresh and checks that what is installed is exactly the lock.

Exit codes: 0 holds, 1 a check failed, 2 the lock is unreadable, 3 stale.`,
		Example: `  mlenv verify              # in CI, next to the paper's code
  mlenv verify --offline    # no network: well-formed and fresh
  mlenv verify --deep --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.offline, "offline", false, "only the checks that need no network")
	f.BoolVar(&o.strict, "strict", false, "fail when a locked tag now points at another digest")
	f.BoolVar(&o.deep, "deep", false, "install the environment afresh and compare it with the lock")
	f.BoolVar(&o.json, "json", false, "print the checks as JSON")
	return cmd
}

func runVerify(ctx context.Context, o verifyOptions, stdout, stderr io.Writer) error {
	p, err := openProject(o.globalOptions)
	if err != nil {
		return err
	}
	s, err := newServices(o.globalOptions, p, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	vo := resolve.VerifyOptions{Registry: s.reg, Offline: o.offline, Strict: o.strict,
		Build: &resolve.Options{Registry: s.reg, Auth: s.auth, Pip: s.engine.PipVenv, Info: info(o.globalOptions, stderr), Phases: phases(o.globalOptions, stderr)}}
	if o.deep {
		vo.Deep = s.engine.VerifyEnv
	}
	rep, err := resolve.Verify(ctx, p, vo)
	if rep == nil {
		return err
	}
	printReport(o, rep, stdout, stderr)
	if err != nil {
		return reported{err}
	}
	return nil
}

func printReport(o verifyOptions, rep *resolve.VerifyReport, stdout, stderr io.Writer) {
	if o.json {
		emit(true, stdout, rep)
		return
	}
	if o.quiet && rep.OK {
		return
	}
	for _, c := range rep.Checks {
		fmt.Fprintln(stderr, c.Line())
	}
}
