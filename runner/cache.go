package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// CachedEnv is one environment image mlenv built.
type CachedEnv struct {
	Image    string // its first name, or <none>
	Tags     []string
	ID       string
	Key      string
	Base     string
	Platform string
	Size     int64
	Created  time.Time
}

// CachedVolume is a pip-cache volume mlenv created.
type CachedVolume struct {
	Name string
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
// mlenv-env tags, or, for an image left without any name (the one a
// rebuild replaced), the image itself. It never forces: a name someone
// else gave the image (docker tag … keep:paper) keeps it, and an image a
// container uses stays.
func (e *Engine) RemoveEnv(ctx context.Context, env CachedEnv) error {
	if len(env.Tags) == 0 {
		_, err := e.Client.ImageRemove(ctx, env.ID, client.ImageRemoveOptions{PruneChildren: true})
		return err
	}
	for _, tag := range env.Tags {
		if !strings.HasPrefix(tag, EnvImagePrefix+":") {
			continue
		}
		if _, err := e.Client.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
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

// Prune removes every environment image and pip-cache volume mlenv made on
// this engine, telling removed about each one it removed.
func (e *Engine) Prune(ctx context.Context, removed func(what string)) error {
	envs, vols, err := e.Cache(ctx)
	if err != nil {
		return err
	}
	for _, env := range envs {
		what := env.Image
		if len(env.Tags) == 0 {
			what = "unnamed image " + strings.TrimPrefix(env.ID, "sha256:")[:12]
		}
		if err := e.RemoveEnv(ctx, env); err != nil {
			return fmt.Errorf("remove %s: %w", what, err)
		}
		removed(what)
	}
	for _, v := range vols {
		if err := e.RemoveVolume(ctx, v.Name); err != nil {
			return fmt.Errorf("remove volume %s: %w", v.Name, err)
		}
		removed("volume " + v.Name)
	}
	return nil
}

// names drops the "<none>:<none>" engines list for an image without a name.
func names(tags []string) []string {
	return slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return t == "<none>:<none>" })
}
