package envimage

import (
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LabelCode is on project images: the commit whose files they hold
// ("<commit>-dirty" for a working tree's).
const LabelCode = "dev.mlenv.code"

// ProjectImage is env (an environment image) with the project's code as
// one more layer at workdir, the workdir as its working directory and
// command (when not empty) as its command: its digest is a function of
// the environment, the commit and [run].
func ProjectImage(env v1.Image, code *Code, workdir string, command []string) (v1.Image, error) {
	cfg, err := env.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the environment's config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.WorkingDir = workdir
	if len(command) > 0 {
		cfg.Config.Cmd = command
	}
	labels := maps.Clone(cfg.Config.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelCode] = code.Label()
	cfg.Config.Labels = labels
	img, err := mutate.ConfigFile(env, cfg)
	if err != nil {
		return nil, err
	}
	mt, err := code.layer.MediaType()
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{Layer: code.layer, MediaType: mt, History: v1.History{
		Created:   cfg.Created,
		CreatedBy: fmt.Sprintf("mlenv: the project's %d files at %s in %s", code.Files, code.Label(), workdir),
		Comment:   "mlenv project code",
	}})
}

// Label is the commit as the project image's label names it.
func (c *Code) Label() string {
	if c.Dirty {
		return c.Commit + "-dirty"
	}
	return c.Commit
}

// CodeMediaType is the media type of the code layer on top of env: its
// own layers' kind (Docker or OCI), uncompressed.
func CodeMediaType(env v1.Image) (types.MediaType, error) { return layerMediaType(env) }
