package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
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

// check is one verification and its outcome: "ok", "warn" or "fail".
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

type verifyReport struct {
	Lock   string  `json:"lock"`
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

func runVerify(ctx context.Context, o verifyOptions, stdout, stderr io.Writer) error {
	p, err := loadProject(o.globalOptions)
	if err != nil {
		return err
	}
	rep := &verifyReport{Lock: p.lockPath}
	l, err := requireLock(p.lockPath)
	if err != nil {
		return err
	}
	fresh := lock.Check(p.hashes, l)
	rep.add("fresh", statusOf(fresh.Fresh, "fail"), fresh.Reason())
	if !o.offline && fresh.Fresh {
		if err := verifyRegistry(ctx, o, l, rep, stderr); err != nil {
			return err
		}
		if o.deep {
			verifyDeep(ctx, o, l, rep, stderr)
		}
	}
	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			rep.OK = false
		}
	}
	printReport(o, rep, stdout, stderr)
	switch {
	case !fresh.Fresh:
		return silentExit(exitStale)
	case !rep.OK:
		return silentExit(exitFailure)
	}
	return nil
}

func (r *verifyReport) add(name, status, detail string) {
	r.Checks = append(r.Checks, check{name, status, detail})
}

func statusOf(ok bool, otherwise string) string {
	if ok {
		return "ok"
	}
	return otherwise
}

// verifyRegistry checks every locked digest exists (HEAD, which Docker Hub
// does not count against pull limits) and whether the tag moved.
func verifyRegistry(ctx context.Context, o verifyOptions, l *lock.Lock, rep *verifyReport, stderr io.Writer) error {
	reg, err := newRegistry(o.globalOptions, stderr)
	if err != nil {
		return err
	}
	repo, err := name.NewRepository(l.Image.Repository)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("%s: image.repository: %w", lock.FileName, err))
	}
	digests := []string{l.Image.Digest}
	for _, p := range l.Image.Platforms {
		if p.Digest != l.Image.Digest {
			digests = append(digests, p.Digest)
		}
	}
	for _, d := range digests {
		_, err := reg.Head(ctx, repo.Digest(d))
		rep.add("exists "+repo.Digest(d).String(), statusOf(err == nil, "fail"), errText(err))
	}
	if l.Image.Tag == "" {
		return nil
	}
	moved := "warn"
	if o.strict {
		moved = "fail"
	}
	d, err := reg.Head(ctx, repo.Tag(l.Image.Tag))
	switch {
	case err != nil:
		rep.add("tag "+l.Image.Tag, moved, "the tag no longer resolves: "+err.Error())
	case d.Digest.String() != l.Image.Digest:
		rep.add("tag "+l.Image.Tag, moved, fmt.Sprintf("the tag now points at %s; the lock keeps %s (`mlenv lock --upgrade` would move)", d.Digest, l.Image.Digest))
	default:
		rep.add("tag "+l.Image.Tag, "ok", "still points at the locked digest")
	}
	return nil
}

// verifyDeep installs the environment afresh and compares its venv with
// the lock's packages for this engine's platform.
func verifyDeep(ctx context.Context, o verifyOptions, l *lock.Lock, rep *verifyReport, stderr io.Writer) {
	err := func() error {
		engine, err := runner.Connect(ctx)
		if err != nil {
			return err
		}
		defer engine.Close()
		platform, err := engine.NativePlatform(ctx)
		if err != nil {
			return err
		}
		env, err := runner.EnvFor(l, platform, l.Run.PipCache)
		if err != nil {
			return err
		}
		image, err := engine.EnsureEnv(ctx, env, runner.EnvOptions{Rebuild: true, Progress: progressOut(o.globalOptions, stderr)})
		if err != nil {
			return err
		}
		if len(env.Packages) == 0 {
			return nil
		}
		installed, err := engine.Installed(ctx, env, image)
		if err != nil {
			return err
		}
		return compareInstalled(env.Packages, installed)
	}()
	rep.add("environment matches the lock", statusOf(err == nil, "fail"), errText(err))
}

func compareInstalled(locked []lock.Package, installed map[string]string) error {
	var diffs []string
	want := map[string]string{}
	for _, p := range locked {
		want[p.Name] = p.Version
		if v, ok := installed[p.Name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s is not installed", p.Name, p.Version))
		} else if v != p.Version {
			diffs = append(diffs, fmt.Sprintf("%s is %s, the lock says %s", p.Name, v, p.Version))
		}
	}
	for n, v := range installed {
		if _, ok := want[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s is installed but not in the lock", n, v))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	return errors.New(fmt.Sprint(diffs))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func printReport(o verifyOptions, rep *verifyReport, stdout, stderr io.Writer) {
	if o.json {
		emit(true, stdout, rep)
		return
	}
	if o.quiet && rep.OK {
		return
	}
	for _, c := range rep.Checks {
		line := fmt.Sprintf("%-4s %s", c.Status, c.Name)
		if c.Detail != "" && c.Status != "ok" || c.Name == "fresh" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(stderr, line)
	}
}
