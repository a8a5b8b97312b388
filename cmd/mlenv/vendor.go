package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/runner/archive"
)

type vendorOptions struct {
	*globalOptions
}

func newVendorCmd(g *globalOptions) *cobra.Command {
	o := vendorOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "vendor DIR",
		Short: "Save the locked image and wheels for archiving",
		Long: `Save the locked image (every locked platform, as an OCI image layout in
DIR/image) and the locked wheels (DIR/wheels, each checked against its hash),
with a copy of mlenv.toml and mlenv.lock, so that the environment can be
archived (Zenodo) and restored with no registry and no index:

  mlenv run --from DIR

loads the image into the engine and installs from the wheels, offline.`,
		Example: `  mlenv vendor archive/ && tar -czf env.tar.gz archive/
  mlenv run --from archive/ -- python train.py`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVendor(cmd.Context(), o, args[0], cmd.ErrOrStderr())
		},
	}
}

func runVendor(ctx context.Context, o vendorOptions, dir string, stderr io.Writer) error {
	p, l, err := lockedProject(o.globalOptions, false)
	if err != nil {
		return err
	}
	s, err := newServices(o.globalOptions, p, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := archive.Write(ctx, p, l, dir, archive.WriteOptions{Registry: s.reg, Auth: s.auth, Engine: s.engine, Pip: s.engine.PipVenvFrom, Info: info(o.globalOptions, stderr)}); err != nil {
		return err
	}
	say(o.globalOptions, stderr, "vendored %s (%s) and %s into %s\nrestore offline with: mlenv run --from %s\n",
		l.PinnedReference(), counted(len(l.Image.Platforms), "platform"), counted(len(l.Packages), "locked file"), dir, dir)
	return nil
}

// counted is "1 platform", "2 platforms".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
