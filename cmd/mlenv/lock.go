package main

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
)

type lockOptions struct {
	*globalOptions
	check           bool
	upgrade         bool
	upgradePackages []string
	json            bool
}

func newLockCmd(g *globalOptions) *cobra.Command {
	o := lockOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Resolve mlenv.toml against the registries and write mlenv.lock",
		Long: `Resolve mlenv.toml against the registries and write mlenv.lock.

The image is chosen from the family's tags: every constraint must hold, then
the newest framework wins, then the newest CUDA, then the newest cuDNN
(resolution = "lowest" picks the oldest). A fresh lock (mlenv.toml unchanged
since it was written) is kept as it is, without any network access.`,
		Example: `  mlenv lock              # write or refresh mlenv.lock
  mlenv lock --check      # CI: exit 0 when fresh, 3 when stale; no network
  mlenv lock --upgrade    # re-resolve everything against the registries
  mlenv lock --upgrade-package numpy   # re-resolve one package, keep every other pin`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLock(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.check, "check", false, "only check that the lock is fresh: exit 0 when it is, 3 when stale (no network)")
	f.BoolVar(&o.upgrade, "upgrade", false, "re-resolve everything, even a fresh lock (and move a lock from before env-layout to a layer per package)")
	f.StringSliceVar(&o.upgradePackages, "upgrade-package", nil, "re-resolve this pip package (repeatable), keeping every other pin")
	f.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	return cmd
}

// lockResult is what `mlenv lock --json` prints.
type lockResult struct {
	Lock    string   `json:"lock"`
	Status  string   `json:"status"` // "fresh", "stale", "written", "unchanged"
	Reason  string   `json:"reason,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Files   []string `json:"changed-files,omitempty"`
	Image   string   `json:"image,omitempty"`
}

func runLock(ctx context.Context, o lockOptions, stdout, stderr io.Writer) error {
	p, err := openProject(o.globalOptions)
	if err != nil {
		return err
	}
	if o.check {
		return checkLock(p, o, stdout, stderr)
	}
	s, err := newServices(o.globalOptions, p, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	prev, _ := p.ReadLock() // to say what moved; an unreadable one is replaced
	rep, err := resolve.LockProject(ctx, p, resolve.Options{
		Registry: s.reg, Exec: s.engine, Pip: s.engine.PipVenv, Auth: s.auth, Upgrade: o.upgrade, UpgradePackages: o.upgradePackages,
		Generator: "mlenv " + version, Progress: progressOut(o.globalOptions, stderr), Info: info(o.globalOptions, stderr), Phases: phases(o.globalOptions, stderr),
	})
	if err != nil {
		return err
	}
	if rep.Status == resolve.StatusFresh {
		say(o.globalOptions, stderr, "%s is up to date\n", p.LockPath)
	} else {
		say(o.globalOptions, stderr, "Locked %s\n\t%s\n", rep.Lock.PinnedReference(), rep.Lock.Versions.Describe())
		if src := envimage.NonWheels(rep.Lock.Packages); len(src) > 0 {
			var build []string
			for _, b := range rep.Lock.Build {
				build = append(build, b.Name+" "+b.Version)
			}
			say(o.globalOptions, stderr, "Built from source (no wheel): %s: pip builds them in a container of the image with their locked build requirements (%s)\n", strings.Join(src, ", "), strings.Join(build, ", "))
		}
		if prev != nil {
			if d := lock.Compare(prev, rep.Lock); !d.Empty() {
				say(o.globalOptions, stderr, "%s", d.Format())
			}
		}
	}
	return emit(o.json, stdout, lockResult{Lock: p.LockPath, Status: string(rep.Status), Image: rep.Lock.PinnedReference()})
}

// checkLock is --check: fresh exits 0, missing or stale 3; no network.
func checkLock(p *lock.Project, o lockOptions, stdout, stderr io.Writer) error {
	l, err := lock.Require(p.LockPath)
	var stale *lock.StaleError
	if errors.As(err, &stale) {
		say(o.globalOptions, stderr, "%s does not exist: run `mlenv lock`\n", p.LockPath)
		emit(o.json, stdout, lockResult{Lock: p.LockPath, Status: "stale", Reason: "no lock"})
		return reported{err}
	}
	if err != nil {
		return err
	}
	f := p.Freshness(l)
	if f.Fresh {
		say(o.globalOptions, stderr, "%s is up to date\n", p.LockPath)
		return emit(o.json, stdout, lockResult{Lock: p.LockPath, Status: "fresh", Image: l.PinnedReference()})
	}
	say(o.globalOptions, stderr, "%s is stale: %s: run `mlenv lock`\n", p.LockPath, f.Reason())
	emit(o.json, stdout, lockResult{Lock: p.LockPath, Status: "stale", Reason: f.Reason(), Changed: f.Changed, Files: f.Files})
	return reported{&lock.StaleError{Path: p.LockPath, Reason: f.Reason()}}
}
