package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/envuse"
)

// CachedEnv is one environment image mlenv built.
type CachedEnv struct {
	Image    string   `json:"image"` // its first name, or <none>
	Tags     []string `json:"tags"`
	ID       string   `json:"id"`
	Key      string   `json:"key"`
	Base     string   `json:"base"`
	Platform string   `json:"platform"`
	Size     int64    `json:"size"` // every layer, the base image's included
	// Own is what removing it frees (its layers no other image has),
	// Shared what it shares with other images (the base image's, another
	// environment's packages); -1 where the engine does not say.
	Own     int64     `json:"own"`
	Shared  int64     `json:"shared"`
	Created time.Time `json:"created"`
	// Project is the directory it last ran from, and LastRun when (this
	// user's runs; empty where it never ran for them).
	Project string    `json:"project,omitempty"`
	LastRun time.Time `json:"last-run,omitzero"`
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
	shared := e.sharedSizes(ctx)
	uses, _ := envuse.Default()
	var envs []CachedEnv
	for _, im := range imgs.Items {
		tags := names(im.RepoTags)
		name := "<none>"
		if len(tags) > 0 {
			name = tags[0]
		}
		env := CachedEnv{Image: name, Tags: tags, ID: im.ID, Key: im.Labels[LabelEnv], Base: im.Labels[LabelBase],
			Platform: im.Labels[LabelPlatform], Size: im.Size, Own: -1, Shared: -1, Created: time.Unix(im.Created, 0)}
		if s, ok := shared[im.ID]; ok && s >= 0 {
			env.Own, env.Shared = im.Size-s, s
		}
		if u, ok := uses.Get(env.Key); ok {
			env.Project, env.LastRun = u.Project, u.Time
		}
		envs = append(envs, env)
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

// sharedSizes are the engine's images' shared sizes by ID (what `docker
// system df -v` says; the image list says it only from API 1.42 on).
func (e *Engine) sharedSizes(ctx context.Context) map[string]int64 {
	du, err := e.Client.DiskUsage(ctx, client.DiskUsageOptions{Images: true, Verbose: true})
	out := map[string]int64{}
	if err != nil {
		return out
	}
	for _, im := range du.Images.Items {
		out[im.ID] = im.SharedSize
	}
	return out
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
	// on this engine; otherwise only the images with these Keys, these
	// Volumes (a project's), and the superseded environments of Project:
	// those last run from it whose keys are not Current (its lock's).
	All     bool
	Keys    []string
	Volumes []string
	Project string
	Current []string
	DryRun  bool // say what would go, remove nothing
}

// selects says whether o removes env, and why.
func (o PruneOptions) selects(env CachedEnv) (bool, string) {
	switch {
	case o.All || slices.Contains(o.Keys, env.Key):
		return true, ""
	case o.Project != "" && env.Project == o.Project && !slices.Contains(o.Current, env.Key):
		return true, fmt.Sprintf("superseded: last run from %s on %s, whose lock no longer has it", env.Project, env.LastRun.Local().Format("2006-01-02"))
	}
	return false, ""
}

// Prune removes mlenv's environment images and pip-cache volumes as o
// says, telling report about each: err nil when it went (or would go),
// else why it stayed (in use by a container: skipped, and Prune goes on).
func (e *Engine) Prune(ctx context.Context, o PruneOptions, report func(what string, err error)) error {
	envs, vols, err := e.Cache(ctx)
	if err != nil {
		return err
	}
	uses, _ := envuse.Default()
	for _, env := range envs {
		ok, why := o.selects(env)
		if !ok {
			continue
		}
		what := env.Image
		if len(env.Tags) == 0 {
			what = "unnamed image " + strings.TrimPrefix(env.ID, "sha256:")[:12]
		}
		if env.Own >= 0 {
			what += fmt.Sprintf(" (%s of its own)", units.HumanSize(float64(env.Own)))
		}
		if why != "" {
			what += ", " + why
		}
		err := e.pruneOne(o.DryRun, func() error { return e.RemoveEnv(ctx, env) })
		if err == nil && !o.DryRun {
			uses.Forget(env.Key)
		}
		report(what, err)
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
