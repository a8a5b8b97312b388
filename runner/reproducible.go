package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/task"
)

// NotReproducibleError is an environment build whose digest is not the
// lock's: mlenv never runs it. Files lists how its packages' layer differs
// from another build at hand (the engine's image of that name), if any.
type NotReproducibleError struct {
	Platform           string
	Built, BuiltConfig string
	Env, EnvConfig     string // the lock's
	Against            string // what Files compares with
	Files              []string
}

func (e *NotReproducibleError) Error() string {
	msg := fmt.Sprintf("the %s environment built here is not the locked one: mlenv.lock's env digests were edited or come from another lock, or the build is not reproducible (built %s with config %s; mlenv.lock records %s with config %s). mlenv did not run it",
		e.Platform, e.Built, e.BuiltConfig, e.Env, e.EnvConfig)
	switch {
	case len(e.Files) > 0:
		msg += fmt.Sprintf("; the files that differ from %s:\n%s", e.Against, task.Indent(strings.Join(e.Files, "\n")))
	case e.Against != "":
		msg += fmt.Sprintf("; its files are the same as %s's, so the config differs", e.Against)
	default:
		msg += "; no other build of it is at hand to compare files with: pull it from the env-cache it was pushed to ([run] env-cache), or re-lock with this mlenv (`mlenv lock --upgrade`)"
	}
	return msg
}

// notReproducible describes a build that is not the locked one, comparing
// its files with the engine's image of the environment's name when there
// is one (a build that matched, or a changed copy).
func (e *Engine) notReproducible(ctx context.Context, env Env, b *envimage.Built) error {
	err := &NotReproducibleError{Platform: env.Base.Platform, Built: b.Digest.String(), BuiltConfig: b.Config.String(),
		Env: env.Locked.EnvDigest, EnvConfig: env.Locked.EnvConfig}
	ref := env.Image()
	if _, inspectErr := e.Client.ImageInspect(ctx, ref); inspectErr != nil {
		return err
	}
	files, diffErr := e.diffWithEngine(ctx, ref, b)
	if diffErr == nil {
		err.Against, err.Files = "the engine's "+ref, files
	}
	return err
}

// diffWithEngine compares b's packages layer with what the engine's image
// ref has above the base image's layers.
func (e *Engine) diffWithEngine(ctx context.Context, ref string, b *envimage.Built) ([]string, error) {
	mine, err := b.Layers()
	if err != nil {
		return nil, err
	}
	env := b.EnvLayers()
	theirs, done, err := e.layersAbove(ctx, ref, len(mine)-len(env))
	if err != nil {
		return nil, err
	}
	defer done()
	var ours []io.Reader
	for _, l := range env {
		r, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		ours = append(ours, r)
	}
	return envimage.DiffLayers(theirs, ours, 40)
}

// layersAbove reads the engine's image's layers after the first n
// (docker save, spooled to a temporary file).
func (e *Engine) layersAbove(ctx context.Context, ref string, n int) ([]io.Reader, func(), error) {
	spool, err := spoolSave(ctx, e, ref)
	if err != nil {
		return nil, nil, err
	}
	var closers []io.Closer
	done := func() {
		for _, c := range closers {
			c.Close()
		}
		os.Remove(spool)
	}
	img, err := tarball.ImageFromPath(spool, nil)
	if err != nil {
		done()
		return nil, nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("the layers of %s: %w", ref, err)
	}
	if len(layers) <= n {
		done()
		return nil, nil, fmt.Errorf("%s has %d layers, not more than the base image's %d", ref, len(layers), n)
	}
	var out []io.Reader
	for _, l := range layers[n:] {
		r, err := l.Uncompressed()
		if err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, r)
		out = append(out, r)
	}
	return out, done, nil
}

func spoolSave(ctx context.Context, e *Engine, ref string) (string, error) {
	res, err := e.Client.ImageSave(ctx, []string{ref})
	if err != nil {
		return "", err
	}
	defer res.Close()
	return spoolToTemp(res)
}
