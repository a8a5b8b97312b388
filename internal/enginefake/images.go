package enginefake

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Image is an image the engine has, or a registry serves: its config
// (whose digest is the image ID) and its layers, uncompressed.
type Image struct {
	Config  []byte
	Layers  [][]byte
	DiffIDs []string
}

// ID is the image's config digest, the engine's image ID.
func (i *Image) ID() string { return digest(i.Config) }

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// FromV1 reads a go-containerregistry image into the fake's form.
func FromV1(img v1.Image) (*Image, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	out := &Image{Config: raw}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		r, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		out.Layers = append(out.Layers, b)
		out.DiffIDs = append(out.DiffIDs, digest(b))
	}
	return out, nil
}

// Add puts an image into the engine under names (repo:tag or
// repo@digest), as a pull or load would, and returns its ID.
func (e *Engine) Add(img *Image, names ...string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.add(img, names...)
}

func (e *Engine) add(img *Image, names ...string) string {
	id := img.ID()
	for i, l := range img.Layers {
		e.layers[img.DiffIDs[i]] = l
	}
	stored := &Image{Config: img.Config, DiffIDs: img.DiffIDs}
	e.images[id] = stored
	for _, n := range names {
		e.names[n] = id
	}
	return id
}

// Tag names an existing image (docker tag).
func (e *Engine) Tag(id, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names[name] = id
}

// lookup finds an image by name or ID.
func (e *Engine) lookup(ref string) (string, *Image, bool) {
	if img, ok := e.images[ref]; ok {
		return ref, img, true
	}
	if id, ok := e.names[ref]; ok {
		return id, e.images[id], true
	}
	if !strings.Contains(ref, ":") {
		if id, ok := e.names[ref+":latest"]; ok {
			return id, e.images[id], true
		}
	}
	return "", nil, false
}

func (e *Engine) namesOf(id string) (tags, digests []string) {
	for n, i := range e.names {
		if i != id {
			continue
		}
		if strings.Contains(n, "@") {
			digests = append(digests, n)
		} else {
			tags = append(tags, n)
		}
	}
	slices.Sort(tags)
	slices.Sort(digests)
	return tags, digests
}

func (e *Engine) config(img *Image) *dockerspec.DockerOCIImageConfig {
	var cf dockerspec.DockerOCIImage
	json.Unmarshal(img.Config, &cf)
	return &cf.Config
}

// ImageInspect finds an image by name or ID.
func (e *Engine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	defer e.call("ImageInspect")()
	id, img, ok := e.lookup(ref)
	if !ok {
		return client.ImageInspectResult{}, notFound("image: " + ref)
	}
	tags, digests := e.namesOf(id)
	return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: id, RepoTags: tags, RepoDigests: digests,
		Config: e.config(img), Size: e.size(img), RootFS: image.RootFS{Type: "layers", Layers: slices.Clone(img.DiffIDs)}}}, nil
}

func (e *Engine) size(img *Image) int64 {
	var n int64
	for _, d := range img.DiffIDs {
		n += int64(len(e.layers[d]))
	}
	return n
}

// ImageList lists the images, those with a label when the filter asks.
func (e *Engine) ImageList(_ context.Context, o client.ImageListOptions) (client.ImageListResult, error) {
	defer e.call("ImageList")()
	var out client.ImageListResult
	for _, id := range sortedKeys(e.images) {
		img := e.images[id]
		labels := e.config(img).Labels
		if !matchLabels(o.Filters, labels) {
			continue
		}
		tags, digests := e.namesOf(id)
		if len(tags) == 0 {
			tags = []string{"<none>:<none>"}
		}
		out.Items = append(out.Items, image.Summary{ID: id, RepoTags: tags, RepoDigests: digests, Labels: labels, Size: e.size(img)})
	}
	return out, nil
}

// DiskUsage lists the images with their shared sizes (the bytes of
// layers another image has too).
func (e *Engine) DiskUsage(ctx context.Context, o client.DiskUsageOptions) (client.DiskUsageResult, error) {
	defer e.call("DiskUsage")()
	var out client.DiskUsageResult
	if !o.Images {
		return out, nil
	}
	users := map[string]int{}
	for _, img := range e.images {
		for _, d := range slices.Compact(slices.Sorted(slices.Values(img.DiffIDs))) {
			users[d]++
		}
	}
	for _, id := range sortedKeys(e.images) {
		img := e.images[id]
		var shared int64
		for _, d := range slices.Compact(slices.Sorted(slices.Values(img.DiffIDs))) {
			if users[d] > 1 {
				shared += int64(len(e.layers[d]))
			}
		}
		out.Images.Items = append(out.Images.Items, image.Summary{ID: id, Labels: e.config(img).Labels, Size: e.size(img), SharedSize: shared})
	}
	return out, nil
}

// ImageTag names an image.
func (e *Engine) ImageTag(_ context.Context, o client.ImageTagOptions) (client.ImageTagResult, error) {
	defer e.call("ImageTag")()
	id, _, ok := e.lookup(o.Source)
	if !ok {
		return client.ImageTagResult{}, notFound("image: " + o.Source)
	}
	target := o.Target
	if !strings.Contains(path.Base(target), ":") {
		target += ":latest"
	}
	e.names[target] = id
	return client.ImageTagResult{}, nil
}

// ImageRemove removes a name, and the image with its last name (as
// docker rmi does); an image a container uses is a conflict.
func (e *Engine) ImageRemove(_ context.Context, ref string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	defer e.call("ImageRemove")()
	id, _, ok := e.lookup(ref)
	if !ok {
		return client.ImageRemoveResult{}, notFound("image: " + ref)
	}
	if _, isName := e.names[ref]; isName {
		delete(e.names, ref)
		if tags, digests := e.namesOf(id); len(tags)+len(digests) > 0 {
			return client.ImageRemoveResult{Items: []image.DeleteResponse{{Untagged: ref}}}, nil
		}
	}
	for _, c := range e.containers {
		if c.imageID == id {
			return client.ImageRemoveResult{}, conflict("unable to remove " + ref + ": image is being used by container " + c.ID[:12])
		}
	}
	for n, i := range e.names {
		if i == id {
			delete(e.names, n)
		}
	}
	delete(e.images, id)
	return client.ImageRemoveResult{Items: []image.DeleteResponse{{Deleted: id}}}, nil
}

// ImagePull gets repository@digest from Remote, streaming docker's JSON
// progress messages (an error message when the registry lacks it).
func (e *Engine) ImagePull(_ context.Context, ref string, _ client.ImagePullOptions) (client.ImagePullResponse, error) {
	defer e.call("ImagePull")()
	if e.PullError != nil {
		return nil, e.PullError
	}
	img, ok := e.Remote[ref]
	if !ok {
		return messages(map[string]any{"error": "manifest unknown", "errorDetail": map[string]string{"message": "manifest for " + ref + " not found: manifest unknown"}}), nil
	}
	e.add(img, ref)
	return messages(map[string]any{"status": "Pulling from " + ref}, map[string]any{"status": "Digest: " + strings.SplitN(ref, "@", 2)[1]}), nil
}

// ImageLoad reads a `docker save` archive. Layers the archive lacks must
// be in the engine already (a thin archive), unless FullLoadsOnly.
func (e *Engine) ImageLoad(_ context.Context, input io.Reader, _ ...client.ImageLoadOption) (client.ImageLoadResult, error) {
	e.record("ImageLoad")
	files := map[string][]byte{}
	tr := tar.NewReader(input)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[h.Name] = b
		if h.Name != "manifest.json" && strings.HasSuffix(h.Name, ".tar") {
			e.LoadedLayerBytes += int64(len(b))
		}
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return messages(map[string]any{"error": "invalid archive: no manifest.json"}), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range manifest {
		img := &Image{Config: files[m.Config]}
		for _, name := range m.Layers {
			var err error
			b, ok := files[name]
			id := "sha256:" + strings.TrimSuffix(path.Base(name), ".tar")
			if strings.HasSuffix(name, "/layer.tar") {
				id = digest(b)
			}
			if !ok {
				if _, have := e.layers[id]; !have || e.FullLoadsOnly {
					return messages(map[string]any{"error": "layer " + id + " is not in the archive"}), nil
				}
				b = e.layers[id]
			}
			if b, err = gunzipped(b); err != nil {
				return nil, err
			}
			img.Layers = append(img.Layers, b)
			img.DiffIDs = append(img.DiffIDs, digest(b))
		}
		e.add(img, m.RepoTags...)
	}
	return io.NopCloser(strings.NewReader(`{"stream":"Loaded image"}` + "\n")), nil
}

// ImageSave writes the images as a `docker save` archive.
func (e *Engine) ImageSave(_ context.Context, refs []string, _ ...client.ImageSaveOption) (client.ImageSaveResult, error) {
	defer e.call("ImageSave")()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var manifest []map[string]any
	for _, ref := range refs {
		id, img, ok := e.lookup(ref)
		if !ok {
			return nil, notFound("image: " + ref)
		}
		hex := strings.TrimPrefix(id, "sha256:")
		writeFile(tw, hex+".json", img.Config)
		var layers []string
		for _, d := range img.DiffIDs {
			name := strings.TrimPrefix(d, "sha256:") + "/layer.tar"
			writeFile(tw, name, e.layers[d])
			layers = append(layers, name)
		}
		manifest = append(manifest, map[string]any{"Config": hex + ".json", "RepoTags": []string{ref}, "Layers": layers})
	}
	b, _ := json.Marshal(manifest)
	writeFile(tw, "manifest.json", b)
	tw.Close()
	return io.NopCloser(&buf), nil
}

// FS is the image's file system: every layer applied in order (path →
// content; a directory's content is nil).
func (e *Engine) FS(ref string) (map[string][]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, img, ok := e.lookup(ref)
	if !ok {
		return nil, notFound("image: " + ref)
	}
	fs := map[string][]byte{}
	for _, d := range img.DiffIDs {
		tr := tar.NewReader(bytes.NewReader(e.layers[d]))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(tr)
			fs["/"+strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = b
		}
	}
	return fs, nil
}

func writeFile(tw *tar.Writer, name string, b []byte) {
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
	tw.Write(b)
}

// pullStream is an ImagePullResponse of fixed JSON messages.
type pullStream struct{ io.ReadCloser }

func messages(msgs ...map[string]any) *pullStream {
	var b bytes.Buffer
	for _, m := range msgs {
		line, _ := json.Marshal(m)
		b.Write(append(line, '\n'))
	}
	return &pullStream{io.NopCloser(&b)}
}

func (p *pullStream) Wait(context.Context) error { return nil }

// JSONMessages decodes the stream's messages.
func (p *pullStream) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	return func(yield func(jsonstream.Message, error) bool) {
		dec := json.NewDecoder(p)
		for {
			var m jsonstream.Message
			err := dec.Decode(&m)
			if err == io.EOF {
				return
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// gunzipped is b uncompressed when it is gzip.
func gunzipped(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
