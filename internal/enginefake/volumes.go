package enginefake

import (
	"context"

	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// VolumeInspect finds a volume.
func (e *Engine) VolumeInspect(_ context.Context, name string, _ client.VolumeInspectOptions) (client.VolumeInspectResult, error) {
	defer e.call("VolumeInspect")()
	labels, ok := e.volumes[name]
	if !ok {
		return client.VolumeInspectResult{}, notFound("volume: " + name)
	}
	return client.VolumeInspectResult{Volume: volume.Volume{Name: name, Labels: labels}}, nil
}

// VolumeCreate makes a volume.
func (e *Engine) VolumeCreate(_ context.Context, o client.VolumeCreateOptions) (client.VolumeCreateResult, error) {
	defer e.call("VolumeCreate")()
	e.volumes[o.Name] = o.Labels
	return client.VolumeCreateResult{Volume: volume.Volume{Name: o.Name, Labels: o.Labels}}, nil
}

// VolumeList lists the volumes that have the filter's labels.
func (e *Engine) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	defer e.call("VolumeList")()
	var out client.VolumeListResult
	for _, name := range sortedKeys(e.volumes) {
		if matchLabels(o.Filters, e.volumes[name]) {
			out.Items = append(out.Items, volume.Volume{Name: name, Labels: e.volumes[name]})
		}
	}
	return out, nil
}

// VolumeRemove removes a volume; one a live container mounts is a
// conflict.
func (e *Engine) VolumeRemove(_ context.Context, name string, _ client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	defer e.call("VolumeRemove")()
	if _, ok := e.volumes[name]; !ok {
		return client.VolumeRemoveResult{}, notFound("volume: " + name)
	}
	for _, c := range e.containers {
		for _, m := range c.Host.Mounts {
			if !c.Removed && m.Source == name {
				return client.VolumeRemoveResult{}, conflict("volume is in use")
			}
		}
	}
	delete(e.volumes, name)
	return client.VolumeRemoveResult{}, nil
}

// Volumes are the volumes' names and labels.
func (e *Engine) Volumes() map[string]map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range e.volumes {
		out[k] = v
	}
	return out
}
