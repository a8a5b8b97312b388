package runner

import (
	"archive/tar"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/task"
)

// LoadEnv loads a built environment image into the engine under tag and
// checks the engine keeps it under the built config digest. Only the
// layers the engine lacks are sent, streamed: a `docker save` archive
// that holds the layers above the longest stack of b's layers some image
// in the engine has (the engine finds those by their chain, and stores a
// layer once per chain); an engine that wants every layer (podman, the
// containerd store) is sent the whole image.
func (e *Engine) LoadEnv(ctx context.Context, b v1.Image, tag string) error {
	err := e.load(ctx, b, tag, thinArchive(e.chains(ctx)))
	if err == nil {
		return nil
	}
	if wrong := (*envimage.WrongLayerError)(nil); errors.As(err, &wrong) {
		return err
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
	written := make(chan error, 1)
	go func() {
		err := write(pw, b, tag)
		pw.CloseWithError(err)
		watch.Finish()
		written <- err
	}()
	ph := e.Phases.Start("Loading "+tag+" into the engine", 0, 0)
	defer ph.End()
	res, err := e.Client.ImageLoad(watch.ctx, ph.Reader(watch.Reader(pr)), client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		if werr := <-written; werr != nil && !errors.Is(werr, io.ErrClosedPipe) && !errors.Is(werr, err) {
			return werr // what the archive could not be made of (a layer's bytes) says more
		}
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
	if werr := <-written; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return werr
	}
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
// layers above the longest stack of b's layers whose chain is in have
// (all of them when none is).
func thinArchive(have map[string]bool) archiveWriter {
	return func(w io.Writer, b v1.Image, tag string) error {
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
		all, err := b.Layers()
		if err != nil {
			return fmt.Errorf("the image's layers: %w", err)
		}
		if len(all) == 0 || len(all) != len(cf.RootFS.DiffIDs) {
			return errors.New("the image has no layers, or not one per diff ID")
		}
		var names []string
		for _, d := range cf.RootFS.DiffIDs {
			names = append(names, d.Hex+".tar")
		}
		from := 0
		for i, c := range chainIDs(cf.RootFS.DiffIDs) {
			if have[c] {
				from = i + 1
			}
		}
		manifest, err := json.Marshal([]map[string]any{{"Config": cfgName.Hex + ".json", "RepoTags": []string{tag}, "Layers": names}})
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
		sent := map[string]bool{}
		for i := from; i < len(all); i++ {
			if sent[names[i]] {
				continue
			}
			sent[names[i]] = true
			if err := tarLayer(tw, names[i], all[i]); err != nil {
				return err
			}
		}
		return tw.Close()
	}
}

// tarLayer adds a layer as the engine loads it (compressed or not).
func tarLayer(tw *tar.Writer, name string, l v1.Layer) error {
	size, err := l.Size()
	if err != nil {
		return err
	}
	r, err := l.Compressed()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size}); err != nil {
		return err
	}
	_, err = io.Copy(tw, r)
	return err
}

// chainIDs are the chain IDs of a stack of layers (the image spec's
// ChainID: the first diff ID, then the digest of "parent diffID").
func chainIDs(diffIDs []v1.Hash) []string {
	var out []string
	chain := ""
	for _, d := range diffIDs {
		if chain == "" {
			chain = d.String()
		} else {
			chain = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(chain+" "+d.String())))
		}
		out = append(out, chain)
	}
	return out
}

// maxChainImages bounds how many of the engine's images LoadEnv inspects
// for the layer stacks it has (mlenv's environments first).
const maxChainImages = 500

// chains are the chain IDs of every stack of layers the engine's images
// have (none where the engine cannot say: every layer is then sent).
func (e *Engine) chains(ctx context.Context) map[string]bool {
	have := map[string]bool{}
	list, err := e.Client.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return have
	}
	items := list.Items
	slices.SortStableFunc(items, func(a, b image.Summary) int {
		return cmp.Compare(b.Labels[LabelEnv], a.Labels[LabelEnv])
	})
	for i, im := range items {
		if i == maxChainImages {
			break
		}
		got, err := e.Client.ImageInspect(ctx, im.ID)
		if err != nil || got.RootFS.Type != "layers" {
			continue
		}
		var ids []v1.Hash
		for _, l := range got.RootFS.Layers {
			h, err := v1.NewHash(l)
			if err != nil {
				break
			}
			ids = append(ids, h)
		}
		for _, c := range chainIDs(ids) {
			have[c] = true
		}
	}
	return have
}

func tarFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}
