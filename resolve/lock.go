package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/internal/version"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve/pip"
	"github.com/mlenv/mlenv/schema"
)

// Options say how a lock is resolved.
type Options struct {
	// Registry pins the image; it is asked only when [image] changed or
	// Upgrade is set.
	Registry *registry.Registry
	// Exec runs pip inside the image; it is asked only when [pip] must be
	// resolved.
	Exec task.Executor
	// Upgrade re-resolves everything; UpgradePackages re-resolves these
	// pip packages and keeps every other pin.
	Upgrade         bool
	UpgradePackages []string
	// Auth has the indexes' credentials (nil: none).
	Auth *indexauth.Auth
	// Pip builds environments whose locked files are not wheels (see
	// envimage.Options.Pip); Info is told what such builds do.
	Pip  func(ctx context.Context, l *lock.Lock, platform string, pkgs []lock.Package) (io.ReadCloser, error)
	Info func(string)
	// Generator is what the lock says wrote it ("mlenv 0.1.0").
	Generator string
	// Progress receives pull progress and pip's output (nil: none).
	Progress io.Writer
	// Phases shows the downloads and digests of the environments (nil:
	// nothing).
	Phases *progress.Printer
	// FreshLayers computes every package layer from its wheel, trusting
	// no digest of mlenv's layer cache (verify).
	FreshLayers bool
}

// Status is what LockProject did.
type Status string

// The outcomes of LockProject.
const (
	StatusFresh     Status = "fresh"     // the lock matched mlenv.toml: kept, no network
	StatusWritten   Status = "written"   // a new or changed lock was written
	StatusUnchanged Status = "unchanged" // re-resolved to the same lock
)

// Report is what LockProject did and the lock it left.
type Report struct {
	Status Status
	Lock   *lock.Lock
}

// LockProject is `mlenv lock`: it keeps a fresh lock as it is (no network),
// else resolves the project against prev and writes the lock atomically.
// Writers of one project's lock run one after the other.
func LockProject(ctx context.Context, p *lock.Project, o Options) (*Report, error) {
	unlock, err := p.Exclusive()
	if err != nil {
		return nil, err
	}
	defer unlock()
	prev, err := p.ReadLock()
	if err != nil && !(o.Upgrade && errors.Is(err, lock.ErrFormat)) {
		return nil, err
	}
	if prev != nil && !o.Upgrade && len(o.UpgradePackages) == 0 && p.Freshness(prev).Fresh {
		return &Report{Status: StatusFresh, Lock: prev}, nil
	}
	next, err := Lock(ctx, p.Spec, p.Hashes, prev, o)
	if err != nil {
		return nil, err
	}
	status := StatusWritten
	if prev != nil && sameLock(prev, next) {
		status = StatusUnchanged
	}
	if err := lock.WriteFile(p.LockPath, next); err != nil {
		return nil, err
	}
	return &Report{Status: status, Lock: next}, nil
}

// Lock resolves spec (with its hashes) into a lock. prev, which may be nil,
// is the lock being replaced: sections of mlenv.toml whose input did not
// change keep their pins unless o.Upgrade asks for fresh ones.
func Lock(ctx context.Context, spec *schema.Spec, h schema.Hashes, prev *lock.Lock, o Options) (*lock.Lock, error) {
	pin, err := pinImage(ctx, spec, h, prev, o)
	if err != nil {
		return nil, err
	}
	next := &lock.Lock{
		Version:   lock.FormatVersion,
		Generator: o.Generator,
		InputHash: h.Input,
		Image:     pin.Image,
		Versions:  pin.Versions,
		Run:       spec.Run,
		Inputs:    lock.Inputs{Image: h.Image, Pip: h.Pip, Run: h.Run, PipSection: h.PipSection, Requirements: h.Requirements},
	}
	switch {
	case !spec.HasPip():
	case prev != nil && !o.Upgrade && len(o.UpgradePackages) == 0 && prev.Inputs.Pip == h.Pip && prev.Image.Digest == next.Image.Digest:
		next.Versions, next.Base, next.Packages, next.Build = prev.Versions, prev.Base, prev.Packages, prev.Build
	default:
		if err := pinPip(ctx, spec, prev, next, o); err != nil {
			return nil, err
		}
	}
	if len(next.Build) == 0 {
		if err := pinBuild(ctx, spec, next, o); err != nil {
			return nil, err
		}
	}
	next.Image.EnvLayout = envLayout(prev, next, o)
	return next, pinEnv(ctx, prev, next, o)
}

// envLayout is the layout of next's environments: a lock mlenv wrote
// before keeps its own (its digests stay what they were) until
// --upgrade; a new or upgraded lock that installs packages gets the
// layers layout, unless a locked file is not a wheel (pip installs those:
// one layer).
func envLayout(prev, next *lock.Lock, o Options) string {
	switch {
	case len(next.Packages) == 0 || len(envimage.NonWheelPackages(next.Packages)) > 0:
		return lock.LayoutOneLayer // no packages: the base image itself, in any layout
	case prev != nil && !o.Upgrade && len(prev.Packages) > 0:
		if prev.Image.EnvLayout == lock.LayoutOneLayer && o.Info != nil {
			o.Info("this lock keeps the one-layer environment layout of the mlenv that wrote it (its env digests stay valid); `mlenv lock --upgrade` moves it to a layer per package, so that a change rebuilds, stores and sends only what changed")
		}
		return prev.Image.EnvLayout
	default:
		return lock.LayoutLayers
	}
}

// indexClient is the HTTP client for the package indexes: the registry's
// transport (retries, timeouts) with the indexes' credentials.
func (o Options) indexClient() *http.Client {
	var base *http.Client
	if o.Registry != nil {
		base = o.Registry.HTTPClient()
	}
	return o.Auth.Client(base)
}

// pinBuild locks the build requirements of the packages that are not
// wheels ([build-system] requires, read from each sdist, checked against
// its locked hash), resolved in the image as pip's isolated build
// environment resolves them, the locked packages as constraints (so a
// package in both has one version).
func pinBuild(ctx context.Context, spec *schema.Spec, next *lock.Lock, o Options) error {
	sdists := envimage.NonWheelPackages(next.Packages)
	if len(sdists) == 0 {
		return nil
	}
	files := envimage.Files{Client: o.indexClient()}
	var reqs []string
	for _, p := range sdists {
		file, err := files.Path(ctx, p)
		if err != nil {
			return err
		}
		r, err := envimage.BuildRequires(file)
		if err != nil {
			return err
		}
		for _, line := range r {
			if !slices.Contains(reqs, line) {
				reqs = append(reqs, line)
			}
		}
	}
	keep := map[string]string{}
	for _, p := range next.Packages {
		keep[p.Name] = p.Version
	}
	build := *spec
	build.Pip.Packages, build.Pip.Requirements = reqs, ""
	pr := &pip.Resolver{Exec: o.Exec, Progress: o.Progress, Auth: o.Auth}
	res, err := pr.Resolve(ctx, pip.Input{Spec: &build, Image: next.Image, Keep: keep, Isolated: true})
	if err != nil {
		return fmt.Errorf("lock the build requirements of %s (%s): %w", strings.Join(envimage.NonWheels(sdists), ", "), strings.Join(reqs, ", "), err)
	}
	next.Build = res.Packages
	return nil
}

func pinImage(ctx context.Context, spec *schema.Spec, h schema.Hashes, prev *lock.Lock, o Options) (*ImagePin, error) {
	if prev != nil && !o.Upgrade && prev.Inputs.Image == h.Image {
		return &ImagePin{Image: prev.Image, Versions: prev.Versions}, nil
	}
	r := &Resolver{Registry: o.Registry}
	return r.Image(ctx, spec.Image, prev)
}

// pinPip pins [pip] by running pip inside the locked image.
func pinPip(ctx context.Context, spec *schema.Spec, prev, next *lock.Lock, o Options) error {
	keep, err := keptPins(prev, next, o.UpgradePackages)
	if err != nil {
		return err
	}
	pr := &pip.Resolver{Exec: o.Exec, Progress: o.Progress, Auth: o.Auth}
	res, err := pr.Resolve(ctx, pip.Input{Spec: spec, Image: next.Image, Keep: keep})
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
		return nil, schema.BadInput(errors.New("--upgrade-package needs an existing lock on the same image: run `mlenv lock` first"))
	}
	names := map[string]bool{}
	for _, n := range upgrade {
		names[lock.NormalizeName(n)] = true
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
			return nil, schema.BadInput(fmt.Errorf("--upgrade-package %s: no such package in %s", n, lock.FileName))
		}
	}
	return keep, nil
}

// applyProbe records what python and the framework said inside the image.
func applyProbe(v *lock.Versions, res *pip.Result) {
	if v.Sources == nil {
		v.Sources = map[string]string{}
	}
	if res.Python != "" {
		v.Python, v.Sources["python"] = res.Python, "probe"
	}
	if res.Executable != "" {
		v.PythonExecutable = res.Executable
	}
	if c, ok := res.Framework["cuda"].(string); ok && c != "" {
		v.FrameworkCUDA = c
		if v.CUDA == "" {
			v.CUDA, v.Sources["cuda"] = c, "probe"
		}
	}
	if c, ok := res.Framework["cudnn"].(float64); ok && c > 0 {
		v.FrameworkCuDNN = version.CuDNN(int(c))
	}
	if archs, ok := res.Framework["archs"].([]any); ok && len(archs) > 0 {
		v.CUDAArchs = nil
		for _, a := range archs {
			if s, ok := a.(string); ok {
				v.CUDAArchs = append(v.CUDAArchs, s)
			}
		}
		v.Sources["cuda-archs"] = "probe"
	}
}

func sameLock(a, b *lock.Lock) bool {
	ab, errA := lock.Marshal(a)
	bb, errB := lock.Marshal(b)
	return errA == nil && errB == nil && string(ab) == string(bb)
}
