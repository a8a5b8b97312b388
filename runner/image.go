package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlenv/mlenv/internal/progress"
)

// ImageRef names one platform's image of a lock: the repository, the
// digest run pulls (the index digest for a multi-platform image), the
// platform, and the config digest the engine must end up with.
type ImageRef struct {
	Repository string // index.docker.io/pytorch/pytorch
	Digest     string // sha256:…
	Platform   string // linux/amd64
	Config     string // sha256:…, the image ID the pull must produce
}

// String is repository@digest, the only form mlenv pulls by.
func (r ImageRef) String() string { return r.Repository + "@" + r.Digest }

// EnsureImage makes sure the engine has the image and returns the name to
// create containers from. An image the engine knows by repository@digest,
// or by its config digest (loaded from an archive: `mlenv run --from`), is
// used as it is; otherwise it is pulled by digest (never by tag), with
// docker's progress display on out (a terminal), else one line when it is
// done (Engine.Phases), and checked to be the locked one.
func (e *Engine) EnsureImage(ctx context.Context, ref ImageRef, out io.Writer) (string, error) {
	if name, err := e.localImage(ctx, ref); err == nil {
		return name, nil
	}
	if e.Offline {
		return "", fmt.Errorf("image %s (%s) is not in the engine, and this run is offline: load it with `mlenv run --from DIR`", ref, ref.Platform)
	}
	var ph *progress.Phase
	if out == nil { // a terminal shows the engine's own display
		ph = e.Phases.Start("Pulling "+ref.String(), 0, 0)
	}
	if err := e.pull(ctx, ref, out); err != nil {
		if answered(err) {
			return "", err // the engine reported the registry's failure
		}
		return "", lost("the pull of "+ref.String(), err)
	}
	ph.End()
	return e.localImage(ctx, ref)
}

// HasImage reports whether the engine has an image of that name or ID.
func (e *Engine) HasImage(ctx context.Context, ref string) bool {
	_, err := e.Client.ImageInspect(ctx, ref)
	return err == nil
}

// localImage finds the locked image in the engine.
func (e *Engine) localImage(ctx context.Context, ref ImageRef) (string, error) {
	res, err := e.Client.ImageInspect(ctx, ref.String())
	if err != nil && ref.Config != "" {
		if byID, idErr := e.Client.ImageInspect(ctx, ref.Config); idErr == nil {
			return byID.ID, nil
		}
	}
	if err != nil {
		return "", err
	}
	if ref.Config != "" && res.ID != ref.Config {
		return "", fmt.Errorf("the engine's image %s has id %s, but the lock says its %s config is %s: remove it (`docker rmi %s`) and run again",
			ref, res.ID, ref.Platform, ref.Config, ref)
	}
	return ref.String(), nil
}

func (e *Engine) pull(ctx context.Context, ref ImageRef, progress io.Writer) error {
	opts := client.ImagePullOptions{RegistryAuth: registryAuth(ref.Repository)}
	if ref.Platform != "" {
		p, err := parsePlatform(ref.Platform)
		if err != nil {
			return err
		}
		opts.Platforms = []ocispec.Platform{p}
	}
	watch := watchStall(ctx, e.Stall)
	defer watch.Stop()
	stalled := func(err error) error {
		if watch.Stalled() {
			return &StalledError{What: "pull " + ref.String(), Registry: strings.SplitN(ref.Repository, "/", 2)[0], After: watch.d}
		}
		return pullError(ref, err)
	}
	resp, err := e.Client.ImagePull(watch.ctx, ref.String(), opts)
	if err != nil {
		return stalled(err)
	}
	defer resp.Close()
	out, fd, isTerm := progressWriter(progress)
	if err := jsonmessage.DisplayJSONMessagesStream(watch.Reader(resp), out, fd, isTerm, nil); err != nil {
		return stalled(err)
	}
	if watch.Stalled() {
		return stalled(nil)
	}
	return nil
}

// answered reports whether err is the engine's own report (its pull
// failed at the registry), as opposed to the engine not answering.
func answered(err error) bool {
	var je *jsonstream.Error
	return errors.As(err, &je) || strings.Contains(err.Error(), "Error response from daemon")
}

func pullError(ref ImageRef, err error) error {
	msg := err.Error()
	unreachable := strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "network is unreachable") || strings.Contains(msg, "TLS handshake timeout")
	if answered(err) && unreachable {
		return fmt.Errorf("pull %s: the engine cannot reach the registry %s (%w): check the network, or run from an archive (`mlenv vendor`, then `mlenv run --from DIR`), or point [image] registry at a mirror and re-lock",
			ref, strings.SplitN(ref.Repository, "/", 2)[0], err)
	}
	switch {
	case cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "manifest unknown") || strings.Contains(err.Error(), "not found"):
		return fmt.Errorf("pull %s: the locked image no longer exists in its registry and is not present locally (%w): restore it from an archive (`mlenv vendor`), or re-lock with `mlenv lock --upgrade`", ref, err)
	case cerrdefs.IsUnauthorized(err) || strings.Contains(err.Error(), "unauthorized"):
		return fmt.Errorf("pull %s: the registry refused access (%w): run `docker login %s`", ref, err, strings.SplitN(ref.Repository, "/", 2)[0])
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}

// progressWriter returns where to draw pull progress: the terminal's
// progress bars when w is a terminal, nothing otherwise (CI logs stay
// quiet).
func progressWriter(w io.Writer) (io.Writer, uintptr, bool) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		return f, f.Fd(), true
	}
	return io.Discard, 0, false
}

func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
