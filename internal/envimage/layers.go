package envimage

import (
	"archive/zip"
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/mlenv/mlenv/lock"
)

// LayerBudget is how many layers an environment image of the layers
// layout may have, the base image's included. The engines refuse near 125,
// but measured (bench's layer count row) Docker's overlay2 starts every
// container about 130 ms (45%) slower past about 70 layers, where its
// mount options no longer fit in a page and it mounts through a helper
// process; 64 stays below that with room for what is built on top (the
// project image's code layer, a few of a user's Dockerfile).
const LayerBudget = 64

// PlanLayers orders the packages' layers, bottom first: the largest
// lowest (ties by name), so that the changes researchers make most
// (adding or upgrading a small package, a second project with the same
// framework) change the fewest bytes above them; past slots layers, the
// smallest packages share the top layer, in name order. sizes are the
// packages' layer sizes by name.
func PlanLayers(sizes map[string]int64, slots int) [][]string {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range sizes {
			if !yield(n) {
				return
			}
		}
	})
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(sizes[b], sizes[a]) })
	if len(names) <= slots {
		out := make([][]string, len(names))
		for i, n := range names {
			out[i] = []string{n}
		}
		return out
	}
	own := max(slots-1, 0)
	var out [][]string
	for _, n := range names[:own] {
		out = append(out, []string{n})
	}
	return append(out, slices.Sorted(slices.Values(names[own:])))
}

// buildLayers builds the layers layout: the venv's skeleton on the base
// image, then the packages' layers as PlanLayers orders them. A package's
// layer is a function of its wheel and the venv's layout alone, so the
// same wheel is the same layer in every environment that has it.
func buildLayers(ctx context.Context, l *lock.Lock, platform string, base v1.Image, pkgs []lock.Package, o Options) (*Built, error) {
	if notWheels := NonWheels(pkgs); len(notWheels) > 0 {
		return nil, fmt.Errorf("%s: env-layout %s makes a layer of each wheel; run `mlenv lock --upgrade`, which locks such files in the one-layer layout", notWheelsPhrase(notWheels), lock.LayoutLayers)
	}
	py, mm, err := lockedPython(l)
	if err != nil {
		return nil, err
	}
	mt, err := layerMediaType(base)
	if err != nil {
		return nil, err
	}
	baseLayers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("the base image's layers: %w", err)
	}
	b := &Built{Platform: platform, Packages: len(pkgs), Key: Key(platformConfig(l, platform), platform, l.Image.EnvLayout, pkgs)}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	lay := newLayout(lock.VenvPath, mm)
	skeleton := tree{}
	addVenv(skeleton, lay, py, mm)
	skel, err := memoryLayer(skeleton, mt)
	if err != nil {
		return nil, err
	}
	byName, err := b.packageLayers(ctx, lay, pkgs, mt, o)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for name, pl := range byName {
		sizes[name] = pl.size
	}
	budget := o.LayerBudget
	if budget == 0 {
		budget = LayerBudget
	}
	adds := []mutate.Addendum{{Layer: skel, MediaType: mt, History: history(fmt.Sprintf("mlenv: the venv %s (python %s)", lock.VenvPath, py.Version))}}
	for _, group := range PlanLayers(sizes, budget-len(baseLayers)-1) {
		layer, what, err := b.groupLayer(ctx, lay, group, byName, mt, o)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: mt, History: history("mlenv: " + what)})
	}
	cfg, err := envConfig(base, l, platform, pkgs)
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, err
	}
	for i := range adds {
		adds[i].History.Created = cfg.Created
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	b.Image = img
	for _, a := range adds {
		b.layers = append(b.layers, a.Layer)
	}
	if _, err := described(b); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

func history(createdBy string) v1.History {
	return v1.History{CreatedBy: createdBy, Comment: "mlenv environment"}
}

func platformConfig(l *lock.Lock, platform string) string {
	pl, _ := l.Image.Platform(platform)
	return pl.Config
}

// pkgLayer is one package's layer and what it came from.
type pkgLayer struct {
	pkg   lock.Package
	layer v1.Layer
	size  int64
}

// packageLayers makes each package's layer: from the layer cache when it
// has the package's digest (the layer's bytes are made again from the
// wheel only if they are read), else by installing the wheel (in
// parallel), which the cache then remembers.
func (b *Built) packageLayers(ctx context.Context, lay venvLayout, pkgs []lock.Package, mt types.MediaType, o Options) (map[string]*pkgLayer, error) {
	cache := o.layerCache()
	files := o.files()
	out := map[string]*pkgLayer{}
	var missing []lock.Package
	for _, p := range pkgs {
		key := layerKey(lay, p)
		if d, size, ok := cache.get(key); ok && !o.NoLayerCache {
			out[p.Name] = &pkgLayer{pkg: p, size: size, layer: &wheelLayer{ctx: ctx, digest: d, size: size, mediaType: mt,
				files: files, lay: lay, pkg: p, cache: cache, key: key}}
			continue
		}
		missing = append(missing, p)
	}
	if len(missing) == 0 {
		return out, nil
	}
	what := "Digesting"
	if !o.DigestOnly {
		what = "Writing"
	}
	ph := o.Phases.Start(fmt.Sprintf("%s the layers of %d locked files (%d were known)", what, len(missing), len(pkgs)-len(missing)), 0, len(missing))
	defer ph.End()
	files.Progress = ph
	results := make([]*pkgLayer, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range missing {
		g.Go(func() error {
			fl, err := wheelLayerFile(gctx, files, lay, p, mt, o.DigestOnly)
			if err != nil {
				return err
			}
			cache.put(layerKey(lay, p), fl.digest, fl.size)
			results[i] = &pkgLayer{pkg: p, layer: fl, size: fl.size}
			ph.Item()
			return nil
		})
	}
	err := g.Wait()
	for _, r := range results {
		if r != nil {
			b.keep(r.layer)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		out[r.pkg.Name] = r
	}
	return out, nil
}

// keep makes Close remove a layer's file.
func (b *Built) keep(l v1.Layer) {
	if fl, ok := l.(*fileLayer); ok && fl.path != "" {
		b.temps = append(b.temps, fl.path)
	}
}

// groupLayer is the layer of a group of PlanLayers: one package's own
// layer, or the small packages' shared one (installed in name order).
func (b *Built) groupLayer(ctx context.Context, lay venvLayout, group []string, byName map[string]*pkgLayer, mt types.MediaType, o Options) (v1.Layer, string, error) {
	if len(group) == 1 {
		p := byName[group[0]].pkg
		return byName[group[0]].layer, fmt.Sprintf("%s %s (%s)", p.Name, p.Version, path.Base(p.URL)), nil
	}
	files := o.files()
	t := tree{}
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	for _, name := range group {
		f, err := installFile(ctx, t, files, lay, byName[name].pkg)
		if err != nil {
			return nil, "", err
		}
		closers = append(closers, f)
	}
	fl, err := writeLayer(t, mt, o.DigestOnly, nil)
	if err != nil {
		return nil, "", err
	}
	b.keep(fl)
	return fl, fmt.Sprintf("%d small packages (%s)", len(group), strings.Join(group, ", ")), nil
}

// installFile installs p's locked wheel into t; the caller closes the
// file once t is written.
func installFile(ctx context.Context, t tree, files Files, lay venvLayout, p lock.Package) (*os.File, error) {
	file, err := files.Path(ctx, p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		var zr *zip.Reader
		if zr, err = zip.NewReader(f, st.Size()); err != nil {
			err = fmt.Errorf("%s: %w", path.Base(file), err)
		} else {
			err = installWheel(t, lay, zr, path.Base(file), p)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// wheelLayerFile writes (or with digestOnly, digests) p's own layer.
func wheelLayerFile(ctx context.Context, files Files, lay venvLayout, p lock.Package, mt types.MediaType, digestOnly bool) (*fileLayer, error) {
	t := tree{}
	f, err := installFile(ctx, t, files, lay, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return writeLayer(t, mt, digestOnly, nil)
}
