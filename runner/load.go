package runner

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/task"
)

// LoadEnv loads a built environment image into the engine under tag and
// checks the engine keeps it under the built config digest. The engine has
// the base image already, so only the packages' layer is sent (a
// `docker save` archive whose base layers the engine finds by their chain);
// an engine that wants every layer (podman, the containerd store) is sent
// the whole image.
func (e *Engine) LoadEnv(ctx context.Context, b v1.Image, tag string) error {
	err := e.load(ctx, b, tag, thinArchive)
	if err == nil {
		return nil
	}
	if err := e.LoadImage(ctx, b, tag); err != nil {
		return fmt.Errorf("load the environment image into the engine: %w", err)
	}
	return nil
}

// LoadImage loads img into the engine, every layer sent, under tag, and
// checks the engine keeps it under img's config digest.
func (e *Engine) LoadImage(ctx context.Context, img v1.Image, tag string) error {
	return e.load(ctx, img, tag, fullArchive)
}

type archiveWriter func(w io.Writer, b v1.Image, tag string) error

func (e *Engine) load(ctx context.Context, b v1.Image, tag string, write archiveWriter) error {
	// The engine must keep taking the archive; once it has it all, it
	// unpacks (local work, unbounded) before it answers.
	watch := watchStall(ctx, e.Stall)
	defer watch.Stop()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw, b, tag)); watch.Finish() }()
	ph := e.Phases.Start("Loading "+tag+" into the engine", 0, 0)
	defer ph.End()
	res, err := e.Client.ImageLoad(watch.ctx, ph.Reader(watch.Reader(pr)), client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		if watch.Stalled() {
			return &StalledError{What: "load " + tag, After: watch.d}
		}
		return err
	}
	out, _ := io.ReadAll(res)
	if watch.Stalled() {
		return &StalledError{What: "load " + tag, After: watch.d}
	}
	res.Close()
	pr.Close()
	var msg struct {
		Error       string `json:"error"`
		ErrorDetail struct {
			Message string `json:"message"`
		} `json:"errorDetail"`
	}
	if json.Unmarshal(out, &msg) == nil && msg.Error != "" {
		return fmt.Errorf("%s", msg.Error)
	}
	got, err := e.Client.ImageInspect(ctx, tag)
	if err != nil {
		return fmt.Errorf("the engine did not keep %s: %w (%s)", tag, err, task.LastLines(string(out), 3))
	}
	want, err := b.ConfigName()
	if err != nil {
		return fmt.Errorf("the image's config digest: %w", err)
	}
	if got.ID != want.String() {
		return fmt.Errorf("the engine stored %s as %s, not %s", tag, got.ID, want)
	}
	return nil
}

// fullArchive is the image as `docker save` writes it, every layer in.
func fullArchive(w io.Writer, b v1.Image, tag string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	return tarball.Write(t, b, w)
}

// thinArchive is a `docker save` archive with the config and the
// packages' layer only.
func thinArchive(w io.Writer, b v1.Image, tag string) error {
	cfgName, err := b.ConfigName()
	if err != nil {
		return err
	}
	raw, err := b.RawConfigFile()
	if err != nil {
		return err
	}
	cf, err := b.ConfigFile()
	if err != nil {
		return err
	}
	var layers []string
	for _, d := range cf.RootFS.DiffIDs {
		layers = append(layers, d.Hex+".tar")
	}
	all, err := b.Layers()
	if err != nil {
		return fmt.Errorf("the image's layers: %w", err)
	}
	if len(all) == 0 {
		return errors.New("the image has no layers")
	}
	top := all[len(all)-1]
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName.Hex + ".json", "RepoTags": []string{tag}, "Layers": layers}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := tarFile(tw, "manifest.json", manifest); err != nil {
		return err
	}
	if err := tarFile(tw, cfgName.Hex+".json", raw); err != nil {
		return err
	}
	size, err := top.Size()
	if err != nil {
		return err
	}
	r, err := top.Uncompressed()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := tw.WriteHeader(&tar.Header{Name: layers[len(layers)-1], Mode: 0o644, Size: size}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, r); err != nil {
		return err
	}
	return tw.Close()
}

func tarFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}
