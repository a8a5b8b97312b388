// Package registry is mlenv's client for container registries: docker's
// credentials, every page of a tag list, HEAD before GET, verified
// content, de-duplicated requests, retries with backoff, and errors that
// say what the user should do.
package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"github.com/mlenv/mlenv/internal/progress"
)

// Options configure registry access.
type Options struct {
	// Keychain finds credentials; nil means docker's config and credential
	// helpers (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Transport is the HTTP transport under mlenv's retries; nil means
	// go-containerregistry's default.
	Transport http.RoundTripper
	Retry     RetryPolicy // zero means DefaultRetry
	Jobs      int         // concurrent requests; 0 means 4
	// Progress, when set, is told how many tags have been listed so far,
	// and -1 when listing is done.
	Progress func(repo string, tags int)
	// OnRetry, when set, is told before each retry: which host, why, how
	// long mlenv waits, and which attempt of how many comes next.
	OnRetry func(host string, reason error, wait time.Duration, attempt, attempts int)
	// Phases shows pushes as they go (nil: nothing).
	Phases *progress.Printer
	// UserAgent is sent with every request.
	UserAgent string
	// PageSize is how many tags to ask for a page; 0 means 1000.
	PageSize int
	// Timeout bounds the wait for a registry's answer to one request;
	// 0 means 60s.
	Timeout time.Duration
}

// Registry reads tags, manifests and configs. It de-duplicates requests:
// content addressed by digest is fetched once per Registry.
type Registry struct {
	opts   Options
	ropts  []remote.Option
	puller *remote.Puller
	sem    chan struct{}
	flight singleflight.Group
	mu     sync.Mutex
	descs  map[string]*remote.Descriptor
	cfgs   map[string]*v1.ConfigFile
}

// New returns a Registry with the given options.
func New(o Options) (*Registry, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Transport == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = o.Timeout
		o.Transport = t
	}
	if o.Retry.Attempts == 0 {
		o.Retry = DefaultRetry
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	ropts := []remote.Option{
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(&retryTransport{next: o.Transport, policy: o.Retry, onRetry: o.OnRetry}),
		// mlenv retries itself (honouring Retry-After); switch go-containerregistry's off.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1, Duration: time.Millisecond}),
		remote.WithJobs(o.Jobs),
	}
	if o.PageSize > 0 {
		ropts = append(ropts, remote.WithPageSize(o.PageSize))
	}
	if o.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(o.UserAgent))
	}
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	return &Registry{
		opts: o, ropts: ropts, puller: p, sem: make(chan struct{}, o.Jobs),
		descs: map[string]*remote.Descriptor{}, cfgs: map[string]*v1.ConfigFile{},
	}, nil
}

// HTTPClient is a plain HTTP client with the registry's transport and
// retry policy, for downloads beside the registry (package files).
func (r *Registry) HTTPClient() *http.Client {
	return &http.Client{Transport: &retryTransport{next: r.opts.Transport, policy: r.opts.Retry, onRetry: r.opts.OnRetry}}
}

// Jobs is how many requests the registry makes at once.
func (r *Registry) Jobs() int { return r.opts.Jobs }

func (r *Registry) acquire(ctx context.Context) (func(), error) {
	select {
	case r.sem <- struct{}{}:
		return func() { <-r.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Tags lists every tag of repo, following every page.
func (r *Registry) Tags(ctx context.Context, repo name.Repository) ([]string, error) {
	lister, err := r.puller.Lister(ctx, repo)
	if err != nil {
		return nil, Classify(err, repo.String())
	}
	var tags []string
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			return nil, Classify(err, repo.String())
		}
		tags = append(tags, page.Tags...)
		if r.opts.Progress != nil {
			r.opts.Progress(repo.String(), len(tags))
		}
	}
	if r.opts.Progress != nil {
		r.opts.Progress(repo.String(), -1)
	}
	return tags, nil
}

// Head returns the descriptor a reference points at, by HEAD (which Docker
// Hub does not count against pull limits), falling back to GET where the
// registry omits the digest header.
func (r *Registry) Head(ctx context.Context, ref name.Reference) (*v1.Descriptor, error) {
	release, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	var d *v1.Descriptor
	err = r.again(ctx, func() error {
		d, err = r.puller.Head(ctx, ref)
		return err
	})
	release()
	if err == nil {
		return d, nil
	}
	if isNotFound(err) || isAuth(err) {
		return nil, Classify(err, ref.String())
	}
	full, err := r.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &full.Descriptor, nil
}

// Get fetches the manifest or index ref points at. A tag is first
// resolved to its digest by HEAD and the content then fetched by digest,
// so that what is pinned is verified against the digest the registry
// names; only where a registry omits the digest header is the digest the
// hash of the body fetched by tag.
func (r *Registry) Get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	if tag, ok := ref.(name.Tag); ok {
		d, err := r.Head(ctx, tag)
		if err != nil {
			return nil, err
		}
		return r.get(ctx, tag.Context().Digest(d.Digest.String()))
	}
	return r.get(ctx, ref)
}

func (r *Registry) get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	d, err := fetchOnce(ctx, r, r.descs, "get:", ref.String(), ref.String(), func() (*remote.Descriptor, error) {
		return r.puller.Get(ctx, ref)
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.descs[ref.Context().Digest(d.Digest.String()).String()] = d
	r.mu.Unlock()
	return d, nil
}

// Config fetches, verifies and parses the config blob with the given
// digest from repo. Configs are fetched once per Registry.
func (r *Registry) Config(ctx context.Context, repo name.Repository, digest v1.Hash) (*v1.ConfigFile, error) {
	ref := repo.Digest(digest.String())
	return fetchOnce(ctx, r, r.cfgs, "cfg:", digest.String(), ref.String(), func() (*v1.ConfigFile, error) {
		return r.readConfig(ctx, ref)
	})
}

// fetchOnce is the one skeleton of a request for content: cached in
// cache under key for the Registry's life, one request for concurrent
// callers (flight keys are prefixed per cache), within the parallelism
// limit, again on a broken body, and its error classified naming what.
func fetchOnce[T any](ctx context.Context, r *Registry, cache map[string]T, prefix, key, what string, fetch func() (T, error)) (T, error) {
	v, err, _ := r.flight.Do(prefix+key, func() (any, error) {
		r.mu.Lock()
		c, ok := cache[key]
		r.mu.Unlock()
		if ok {
			return c, nil
		}
		release, err := r.acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		err = r.again(ctx, func() (err error) {
			c, err = fetch()
			return err
		})
		if err != nil {
			return nil, Classify(err, what)
		}
		r.mu.Lock()
		cache[key] = c
		r.mu.Unlock()
		return c, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

func (r *Registry) readConfig(ctx context.Context, ref name.Digest) (*v1.ConfigFile, error) {
	blob, err := r.puller.Layer(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := blob.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return v1.ParseConfigFile(rc) // the reader verifies the digest at EOF
}

// again runs fetch, and again (with backoff) when the body broke off or
// did not match its digest: faults of a connection or a proxy that a new
// request usually mends. Status errors were retried by the transport.
func (r *Registry) again(ctx context.Context, fetch func() error) error {
	var err error
	for attempt := 1; attempt <= r.opts.Retry.Attempts; attempt++ {
		if err = fetch(); err == nil || !bodyFault(err) {
			return err
		}
		if serr := sleep(ctx, min(r.opts.Retry.Base<<(attempt-1), r.opts.Retry.Max)); serr != nil {
			return serr
		}
	}
	return err
}

func bodyFault(err error) bool {
	msg := err.Error()
	return errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "does not match") || strings.Contains(msg, "error verifying") ||
		errors.Is(err, syscall.ECONNRESET)
}

// Image is the image with the given manifest digest in repo, read with
// ctx (its config and layers are fetched only when read, so ctx must
// outlive the image's use).
func (r *Registry) Image(ctx context.Context, repo name.Repository, digest string) (v1.Image, error) {
	ref := repo.Digest(digest)
	var img v1.Image
	err := r.again(ctx, func() (err error) {
		img, err = remote.Image(ref, append(slices.Clone(r.ropts), remote.WithContext(ctx))...)
		return err
	})
	if err != nil {
		return nil, Classify(err, ref.String())
	}
	return img, nil
}
