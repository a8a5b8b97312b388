package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/runner"
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
	f.BoolVar(&o.upgrade, "upgrade", false, "re-resolve everything, even a fresh lock")
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
	Image   string   `json:"image,omitempty"`
}

func runLock(ctx context.Context, o lockOptions, stdout, stderr io.Writer) error {
	p, err := loadProject(o.globalOptions)
	if err != nil {
		return err
	}
	if !o.check {
		defer p.exclusive()()
	}
	prev, err := p.readLock()
	if err != nil && !(o.upgrade && errors.Is(err, lock.ErrFormat)) {
		return err
	}
	if o.check {
		return checkLock(p, prev, o, stdout, stderr)
	}
	if prev != nil && !o.upgrade && len(o.upgradePackages) == 0 && lock.Check(p.hashes, prev).Fresh {
		say(o, stderr, "%s is up to date\n", p.lockPath)
		return emit(o.json, stdout, lockResult{Lock: p.lockPath, Status: "fresh", Image: pinnedRef(prev)})
	}
	next, err := resolveLock(ctx, p, prev, o, stderr)
	if err != nil {
		return err
	}
	status := "written"
	if prev != nil && sameLock(prev, next) {
		status = "unchanged"
	}
	if err := lock.WriteFile(p.lockPath, next); err != nil {
		return err
	}
	say(o, stderr, "Locked %s\n\t%s\n", pinnedRef(next), describeVersions(next.Versions))
	return emit(o.json, stdout, lockResult{Lock: p.lockPath, Status: status, Image: pinnedRef(next)})
}

func checkLock(p *project, prev *lock.Lock, o lockOptions, stdout, stderr io.Writer) error {
	if prev == nil {
		say(o, stderr, "%s does not exist: run `mlenv lock`\n", p.lockPath)
		emit(o.json, stdout, lockResult{Lock: p.lockPath, Status: "stale", Reason: "no lock"})
		return silentExit(exitStale)
	}
	f := lock.Check(p.hashes, prev)
	if f.Fresh {
		say(o, stderr, "%s is up to date\n", p.lockPath)
		return emit(o.json, stdout, lockResult{Lock: p.lockPath, Status: "fresh", Image: pinnedRef(prev)})
	}
	say(o, stderr, "%s is stale: %s: run `mlenv lock`\n", p.lockPath, f.Reason())
	emit(o.json, stdout, lockResult{Lock: p.lockPath, Status: "stale", Reason: f.Reason(), Changed: f.Changed})
	return silentExit(exitStale)
}

// resolveLock builds the new lock. Sections of mlenv.toml that did not
// change keep their pins unless --upgrade asks for fresh ones.
func resolveLock(ctx context.Context, p *project, prev *lock.Lock, o lockOptions, stderr io.Writer) (*lock.Lock, error) {
	pin, err := resolveImage(ctx, p, prev, o, stderr)
	if err != nil {
		return nil, err
	}
	next := &lock.Lock{
		Version:   lock.FormatVersion,
		Generator: "mlenv " + version,
		InputHash: p.hashes.Input,
		Image:     pin.Image,
		Versions:  pin.Versions,
		Run:       p.spec.Run,
		Inputs:    lock.Inputs{Image: p.hashes.Image, Pip: p.hashes.Pip, Run: p.hashes.Run},
	}
	if !p.spec.HasPip() {
		return next, nil
	}
	if prev != nil && !o.upgrade && len(o.upgradePackages) == 0 && prev.Inputs.Pip == p.hashes.Pip && prev.Image.Digest == next.Image.Digest {
		next.Versions, next.Base, next.Packages = prev.Versions, prev.Base, prev.Packages
		return next, nil
	}
	return next, resolvePip(ctx, p, prev, next, o, stderr)
}

func resolveImage(ctx context.Context, p *project, prev *lock.Lock, o lockOptions, stderr io.Writer) (*resolve.ImagePin, error) {
	if prev != nil && !o.upgrade && prev.Inputs.Image == p.hashes.Image {
		return &resolve.ImagePin{Image: prev.Image, Versions: prev.Versions}, nil
	}
	reg, err := newRegistry(o.globalOptions, stderr)
	if err != nil {
		return nil, err
	}
	r := &resolve.Resolver{Registry: reg}
	return r.Image(ctx, p.spec.Image, prev)
}

// resolvePip pins [pip] by running pip inside the locked image.
func resolvePip(ctx context.Context, p *project, prev, next *lock.Lock, o lockOptions, stderr io.Writer) error {
	keep, err := keptPins(prev, next, o.upgradePackages)
	if err != nil {
		return err
	}
	engine, err := runner.Connect(ctx)
	if err != nil {
		return fmt.Errorf("[pip] packages are resolved inside the image, which needs a Docker engine: %w", err)
	}
	defer engine.Close()
	pr := &resolve.PipResolver{Exec: engine, Progress: progressOut(o.globalOptions, stderr)}
	res, err := pr.Resolve(ctx, resolve.PipInput{Spec: p.spec, Image: next.Image, Keep: keep})
	if err != nil {
		return err
	}
	next.Base, next.Packages = res.Base, res.Packages
	applyProbe(&next.Versions, res)
	return nil
}

// keptPins is, for --upgrade-package, every previously locked package but
// the ones named.
func keptPins(prev, next *lock.Lock, upgrade []string) (map[string]string, error) {
	if len(upgrade) == 0 {
		return nil, nil
	}
	if prev == nil || prev.Image.Digest != next.Image.Digest {
		return nil, withCode(exitUsage, errors.New("--upgrade-package needs an existing lock on the same image: run `mlenv lock` first"))
	}
	names := map[string]bool{}
	for _, n := range upgrade {
		names[resolve.NormalizeName(n)] = true
	}
	keep := map[string]string{}
	found := map[string]bool{}
	for _, pkg := range prev.Packages {
		if names[pkg.Name] {
			found[pkg.Name] = true
			continue
		}
		keep[pkg.Name] = pkg.Version
	}
	for n := range names {
		if !found[n] {
			return nil, withCode(exitUsage, fmt.Errorf("--upgrade-package %s: no such package in %s", n, lock.FileName))
		}
	}
	return keep, nil
}

// applyProbe records what python and the framework said inside the image.
func applyProbe(v *lock.Versions, res *resolve.PipResult) {
	if v.Sources == nil {
		v.Sources = map[string]string{}
	}
	if res.Python != "" {
		v.Python, v.Sources["python"] = res.Python, "probe"
	}
	if c, ok := res.Framework["cuda"].(string); ok && c != "" {
		v.FrameworkCUDA = c
		if v.CUDA == "" {
			v.CUDA, v.Sources["cuda"] = c, "probe"
		}
	}
	if c, ok := res.Framework["cudnn"].(float64); ok && c > 0 {
		v.FrameworkCuDNN = fmt.Sprintf("%d", int(c))
	}
}

func sameLock(a, b *lock.Lock) bool {
	ab, errA := lock.Marshal(a)
	bb, errB := lock.Marshal(b)
	return errA == nil && errB == nil && string(ab) == string(bb)
}

func pinnedRef(l *lock.Lock) string {
	ref := l.Image.Reference
	if l.Image.Tag != "" {
		ref += ":" + l.Image.Tag
	}
	return ref + "@" + l.Image.Digest
}

func describeVersions(v lock.Versions) string {
	s := ""
	add := func(label, val string) {
		if val != "" {
			if s != "" {
				s += ", "
			}
			s += label + " " + val
		}
	}
	add(v.Framework, v.FrameworkVersion)
	add("CUDA", v.CUDA)
	add("cuDNN", v.CuDNN)
	add("python", v.Python)
	add("min driver", v.MinDriver)
	if s == "" {
		return "no versions found in the image's tag or config"
	}
	return s
}

func say(o lockOptions, w io.Writer, format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(w, format, args...)
	}
}

func emit(enabled bool, w io.Writer, v any) error {
	if !enabled {
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
