package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/internal/progress"
)

// globalOptions are the flags every subcommand takes.
type globalOptions struct {
	file     string // mlenv.toml; found upward from the working directory when empty
	lockfile string // mlenv.lock; beside mlenv.toml when empty
	quiet    bool
	// registryTimeout bounds the wait for one registry answer.
	registryTimeout time.Duration
	// printer shows this command's long work (phases): one, so that
	// the registry's, the engine's and the lock's phases share its lines.
	printer *progress.Printer
}

func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	return report(ctx, stderr, root.ExecuteContext(ctx))
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var g globalOptions
	root := &cobra.Command{
		Use:   "mlenv",
		Short: "A lockfile for ML environments",
		Long: `mlenv pins an ML environment (framework image, CUDA, cuDNN, python and pip
packages) into mlenv.lock and runs containers from exactly that lock.

` + exitHelp(),
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A runnable root with an argument check, so that an unknown command
		// is a usage error rather than cobra's plain one.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q: see `mlenv --help`", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&g.file, "file", "f", "", "path to mlenv.toml (default: found upward from the current directory)")
	root.PersistentFlags().StringVar(&g.lockfile, "lockfile", "", "path to mlenv.lock (default: beside mlenv.toml)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only errors")
	root.PersistentFlags().DurationVar(&g.registryTimeout, "registry-timeout", 60*time.Second, "how long to wait for one registry answer before retrying, and for progress of an engine pull or load before giving up")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.registryTimeout <= 0 {
			return usageError{fmt.Errorf("--registry-timeout %s: give a positive duration, e.g. 60s", g.registryTimeout)}
		}
		return nil
	}
	root.AddCommand(newInitCmd(&g), newLockCmd(&g), newRunCmd(&g, stdin), newVerifyCmd(&g), newShowCmd(&g),
		newDiffCmd(&g), newExportCmd(&g), newVendorCmd(&g), newCacheCmd(&g), newBuildCmd(&g), newPushCmd(&g))
	return root
}

// usageArgs wraps a cobra argument validator so its errors exit 2.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
