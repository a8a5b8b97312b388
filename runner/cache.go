package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/moby/moby/client"
)

// CachedEnv is one environment image mlenv built.
type CachedEnv struct {
	Image    string    `json:"image"` // its first name, or <none>
	Tags     []string  `json:"tags"`
	ID       string    `json:"id"`
	Key      string    `json:"key"`
	Base     string    `json:"base"`
	Platform string    `json:"platform"`
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
}

// CachedVolume is a pip-cache volume mlenv created.
type CachedVolume struct {
	Name string `json:"name"`
}

// Cache lists the environment images and pip-cache volumes mlenv made.
func (e *Engine) Cache(ctx context.Context) ([]CachedEnv, []CachedVolume, error) {
	imgs, err := e.Client.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelEnv)})
	if err != nil {
		return nil, nil, fmt.Errorf("list images: %w", err)
	}
	var envs []CachedEnv
	for _, im := range imgs.Items {
		tags := names(im.RepoTags)
		name := "<none>"
		if len(tags) > 0 {
			name = tags[0]
		}
		envs = append(envs, CachedEnv{Image: name, Tags: tags, ID: im.ID, Key: im.Labels[LabelEnv], Base: im.Labels[LabelBase],
			Platform: im.Labels[LabelPlatform], Size: im.Size, Created: time.Unix(im.Created, 0)})
	}
	vols, err := e.Client.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", LabelPipCache)})
	if err != nil {
		return nil, nil, fmt.Errorf("list volumes: %w", err)
	}
	var vs []CachedVolume
	for _, v := range vols.Items {
		vs = append(vs, CachedVolume{Name: v.Name})
	}
	return envs, vs, nil
}

// RemoveEnv removes what mlenv named of an environment image: its
// mlenv-env tags, then, for an image left without any tag (the one a
// rebuild replaced, or one pulled by digest from an env-cache), its digest
// references and so the image. It never forces: a name someone else gave
// the image (docker tag … keep:paper) keeps it, and an image a container
// uses stays.
func (e *Engine) RemoveEnv(ctx context.Context, env CachedEnv) error {
	for _, tag := range env.Tags {
		if !strings.HasPrefix(tag, EnvImagePrefix+":") {
			continue
		}
		if _, err := e.Client.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			return err
		}
	}
	img, err := e.Client.ImageInspect(ctx, env.ID)
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil || len(names(img.RepoTags)) > 0 {
		return err
	}
	if len(img.RepoDigests) == 0 {
		_, err := e.Client.ImageRemove(ctx, env.ID, client.ImageRemoveOptions{PruneChildren: true})
		return err
	}
	for _, ref := range img.RepoDigests {
		if _, err := e.Client.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// RemoveVolume removes a pip-cache volume.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	_, err := e.Client.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	return err
}

// PruneOptions say what Prune removes.
type PruneOptions struct {
	// All removes every environment image and pip-cache volume mlenv made
	// on this engine; otherwise only the images with these Keys and these
	// Volumes (a project's).
	All     bool
	Keys    []string
	Volumes []string
	DryRun  bool // say what would go, remove nothing
}

// Prune removes mlenv's environment images and pip-cache volumes as o
// says, telling report about each: err nil when it went (or would go),
// else why it stayed (in use by a container: skipped, and Prune goes on).
func (e *Engine) Prune(ctx context.Context, o PruneOptions, report func(what string, err error)) error {
	envs, vols, err := e.Cache(ctx)
	if err != nil {
		return err
	}
	for _, env := range envs {
		if !o.All && !slices.Contains(o.Keys, env.Key) {
			continue
		}
		what := env.Image
		if len(env.Tags) == 0 {
			what = "unnamed image " + strings.TrimPrefix(env.ID, "sha256:")[:12]
		}
		report(what, e.pruneOne(o.DryRun, func() error { return e.RemoveEnv(ctx, env) }))
	}
	for _, v := range vols {
		if !o.All && !slices.Contains(o.Volumes, v.Name) {
			continue
		}
		report("volume "+v.Name, e.pruneOne(o.DryRun, func() error { return e.RemoveVolume(ctx, v.Name) }))
	}
	return nil
}

// ErrInUse says a container uses what Prune was to remove.
var ErrInUse = errors.New("in use by a container: skipped")

func (e *Engine) pruneOne(dryRun bool, remove func() error) error {
	if dryRun {
		return nil
	}
	err := remove()
	if cerrdefs.IsConflict(err) {
		return ErrInUse
	}
	return err
}

// names drops the "<none>:<none>" engines list for an image without a name.
func names(tags []string) []string {
	return slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return t == "<none>:<none>" })
}
