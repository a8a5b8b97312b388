// Package envimage builds a lock's environment image as a pure function of
// the lock: the locked base image with one more layer, a normalized tar of
// the virtual environment holding the locked packages, and a config whose
// every field comes from the lock. Any machine that builds it gets the
// same digests, which the lock records (`env`, `env-config`).
//
// Wheels are installed by mlenv itself (the wheel format: purelib and
// platlib, .data directories, entry points, RECORD), so no container runs
// and any platform builds on any machine. Locked files that are not wheels
// go through pip in a container of the image (Options.Pip), whose venv is
// read back and normalized the same way.
//
// The layer is stored uncompressed, so the manifest's digest depends on
// no compressor: a future mlenv must keep writing the same tar for the
// same lock (the golden test in this package guards it).
package envimage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
)

// Labels on environment images, so `mlenv cache` finds them.
const (
	LabelEnv      = "dev.mlenv.env"      // the environment key
	LabelBase     = "dev.mlenv.base"     // the base image by digest
	LabelPlatform = "dev.mlenv.platform" // the platform
)

// Options say where the locked files come from.
type Options struct {
	// Client downloads locked files (with the indexes' credentials).
	Client *http.Client
	// Cache is the directory of downloaded files ("": DefaultCache()).
	Cache string
	// Wheelhouse, when set, holds the locked files (a vendor archive's
	// wheels) and nothing is downloaded.
	Wheelhouse string
	// Pip installs locked files that are not wheels: it runs pip in a
	// container of the image for platform and returns a tar of the venv
	// (entries under "venv/"). Nil: such locks cannot be built.
	Pip func(ctx context.Context, platform string, pkgs []lock.Package) (io.ReadCloser, error)
	// Info, when set, is told what the build does; Warn of a bad copy in
	// the download cache.
	Info, Warn func(string)
	// DigestOnly computes the digests without keeping the layer (what a
	// lock records): the result can be neither loaded nor pushed.
	DigestOnly bool
	// Phases shows the downloads and the layer's writing (nil: nothing).
	Phases *progress.Printer
	// LayerCache is the directory of known package layer digests (""
	// DefaultLayerCache()); NoLayerCache computes every layer afresh (and
	// records it), trusting no entry.
	LayerCache   string
	NoLayerCache bool
	// LayerBudget is the most layers the layers layout makes, base
	// included (0: LayerBudget).
	LayerBudget int
}

// DefaultCache is where downloaded locked files are kept, for this user
// alone: $XDG_CACHE_HOME/mlenv/files (or the OS's equivalent), never a
// shared $TMPDIR.
func DefaultCache() (string, error) {
	dir, err := userdir.Cache("files")
	if err != nil {
		return "", err
	}
	return userdir.Private(dir)
}

// Built is an environment image. Close removes its layer file.
type Built struct {
	v1.Image
	Key      string
	Digest   v1.Hash // the manifest's digest: the lock's env
	Config   v1.Hash // the config's digest: the lock's env-config, the engine's image ID
	Platform string  // the lock's platform it was built for
	Packages int     // how many locked files it installs (0: the base image itself)
	layers   []v1.Layer
	temps    []string // layer files Close removes
}

// Close removes its layers' files.
func (b *Built) Close() error {
	var err error
	for _, p := range b.temps {
		if rerr := os.Remove(p); err == nil && rerr != nil && !os.IsNotExist(rerr) {
			err = rerr
		}
	}
	b.temps = nil
	return err
}

// Layer is the top layer (the packages' one, in the one-layer layout);
// nil when the lock installs nothing.
func (b *Built) Layer() v1.Layer {
	if len(b.layers) == 0 {
		return nil
	}
	return b.layers[len(b.layers)-1]
}

// EnvLayers are the layers the environment adds to the base image,
// bottom first.
func (b *Built) EnvLayers() []v1.Layer { return b.layers }

// Key identifies an environment: the base image's config and the exact
// files installed, with the index and URL each came from. Run settings do
// not count, so changing them reuses the environment.
func Key(baseConfig, platform, layout string, pkgs []lock.Package) string {
	h := sha256.New()
	fmt.Fprintf(h, "mlenv-env v2\n%s\n%s\n%s\n", baseConfig, platform, lock.VenvPath)
	if layout != lock.LayoutOneLayer {
		fmt.Fprintf(h, "layout %s\n", layout)
	}
	for _, p := range pkgs {
		fmt.Fprintf(h, "%s==%s %s %s %s\n", p.Name, p.Version, strings.Join(p.Hashes, ","), p.Index, p.URL)
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:20]
}

// Build builds l's environment image for platform on base, the locked
// image for that platform (its layers are read only when the result is
// written out). The result is not checked against the lock: see Check.
func Build(ctx context.Context, l *lock.Lock, platform string, base v1.Image, o Options) (*Built, error) {
	SweepLeftovers()
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return nil, fmt.Errorf("the lock has no %s image", platform)
	}
	pkgs := l.PackagesFor(platform)
	if len(pkgs) == 0 {
		return described(&Built{Image: base, Platform: platform, Key: Key(pl.Config, platform, l.Image.EnvLayout, nil)})
	}
	switch l.Image.EnvLayout {
	case lock.LayoutLayers:
		return buildLayers(ctx, l, platform, base, pkgs, o)
	case lock.LayoutOneLayer:
	default:
		return nil, fmt.Errorf("the lock's env-layout %q is not one this mlenv builds: upgrade mlenv", l.Image.EnvLayout)
	}
	mt, err := layerMediaType(base)
	if err != nil {
		return nil, err
	}
	t := tree{}
	cleanup, err := fill(ctx, t, l, platform, pkgs, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	what := "Writing the environment layer"
	if o.DigestOnly {
		what = "Digesting the environment layer"
	}
	ph := o.Phases.Start(what, t.size(), 0)
	layer, err := writeLayer(t, mt, o.DigestOnly, ph)
	ph.End()
	if err != nil {
		return nil, err
	}
	cfg, err := envConfig(base, l, platform, pkgs)
	if err != nil {
		os.Remove(layer.path)
		return nil, err
	}
	img, err := mutate.ConfigFile(base, cfg)
	if err == nil {
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: mt, History: v1.History{
			Created:   cfg.Created,
			CreatedBy: fmt.Sprintf("mlenv: %d locked files in %s", len(pkgs), lock.VenvPath),
			Comment:   "mlenv environment",
		}})
	}
	if err != nil {
		os.Remove(layer.path)
		return nil, err
	}
	b := &Built{Image: img, Platform: platform, Key: Key(pl.Config, platform, l.Image.EnvLayout, pkgs), Packages: len(pkgs), layers: []v1.Layer{layer}}
	b.keep(layer)
	return described(b)
}

func described(b *Built) (*Built, error) {
	var err error
	if b.Digest, err = b.Image.Digest(); err != nil {
		b.Close()
		return nil, err
	}
	if b.Config, err = b.Image.ConfigName(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// layerMediaType is the uncompressed layer type of the base manifest's
// kind (Docker or OCI), so the manifest stays one kind.
func layerMediaType(base v1.Image) (types.MediaType, error) {
	mt, err := base.MediaType()
	if err != nil {
		return "", err
	}
	if mt == types.DockerManifestSchema2 {
		return types.DockerUncompressedLayer, nil
	}
	return types.OCIUncompressedLayer, nil
}

// fill adds the venv with the locked packages to t: by mlenv's wheel
// installer when every file is a wheel, else by pip.
func fill(ctx context.Context, t tree, l *lock.Lock, platform string, pkgs []lock.Package, o Options) (func(), error) {
	var closers []io.Closer
	cleanup := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	if notWheels := NonWheels(pkgs); len(notWheels) > 0 {
		if o.Pip == nil {
			return cleanup, fmt.Errorf("%s: building their environment needs pip in a container of the image", notWheelsPhrase(notWheels))
		}
		if o.Info != nil {
			o.Info(fmt.Sprintf("%s: pip installs the environment in a container", notWheelsPhrase(notWheels)))
		}
		spill, err := leftover.CreateTemp("", "mlenv-venv-*")
		if err != nil {
			return cleanup, err
		}
		closers = append(closers, removeOnClose{spill})
		r, err := o.Pip(ctx, platform, pkgs)
		if err != nil {
			return cleanup, err
		}
		defer r.Close()
		return cleanup, readVenvTar(t, r, spill)
	}
	py, mm, err := lockedPython(l)
	if err != nil {
		return cleanup, err
	}
	lay := newLayout(lock.VenvPath, mm)
	addVenv(t, lay, py, mm)
	ph := o.Phases.Start(fmt.Sprintf("Unpacking %d locked files (downloading what is missing)", len(pkgs)), 0, len(pkgs))
	defer ph.End()
	files := o.files()
	files.Progress = ph
	for _, p := range pkgs {
		f, err := installFile(ctx, t, files, lay, p)
		if err != nil {
			return cleanup, err
		}
		closers = append(closers, f)
		ph.Item()
	}
	return cleanup, nil
}

// files finds the locked files as o says.
func (o Options) files() Files {
	return Files{Client: o.Client, Cache: o.Cache, Wheelhouse: o.Wheelhouse, Warn: o.Warn}
}

type removeOnClose struct{ f *os.File }

func (r removeOnClose) Close() error { r.f.Close(); return os.Remove(r.f.Name()) }

// notWheelsPhrase says which files are not wheels, in the right number.
func notWheelsPhrase(files []string) string {
	if len(files) == 1 {
		return files[0] + " is not a wheel"
	}
	return strings.Join(files, ", ") + " are not wheels"
}

// NonWheelPackages are the locked packages whose files are not wheels.
func NonWheelPackages(pkgs []lock.Package) []lock.Package {
	return slices.DeleteFunc(slices.Clone(pkgs), isWheel)
}

// NonWheels names the locked files that are not wheels.
func NonWheels(pkgs []lock.Package) []string {
	var out []string
	for _, p := range NonWheelPackages(pkgs) {
		out = append(out, path.Base(p.URL))
	}
	return out
}

// isWheel: a locked file is a wheel by its name; one the lock names no
// URL for (pip before 22.2 reported none) counts as one, as it always has.
func isWheel(p lock.Package) bool {
	return p.URL == "" || strings.HasSuffix(strings.ToLower(path.Base(p.URL)), ".whl")
}

// envConfig is the environment image's config: the base image's, with
// the venv first on PATH, VIRTUAL_ENV, mlenv's labels and, where the base
// image has no command, the venv's python. Its times are the base image's.
func envConfig(base v1.Image, l *lock.Lock, platform string, pkgs []lock.Package) (*v1.ConfigFile, error) {
	bc, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the base image's config: %w", err)
	}
	cfg := bc.DeepCopy()
	pl, _ := l.Image.Platform(platform)
	c := &cfg.Config
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	var vars []string
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			continue
		}
		if !strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			vars = append(vars, kv)
		}
	}
	c.Env = append(vars, lock.VenvEnv(path)...)
	if len(c.Cmd) == 0 && len(c.Entrypoint) == 0 {
		c.Cmd = []string{lock.VenvPython}
	}
	labels := map[string]string{}
	maps.Copy(labels, c.Labels)
	labels[LabelEnv] = Key(pl.Config, platform, l.Image.EnvLayout, pkgs)
	labels[LabelBase] = l.Image.Repository + "@" + l.Image.Digest
	labels[LabelPlatform] = platform
	c.Labels = labels
	return cfg, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
