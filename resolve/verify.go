package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// ErrVerifyFailed marks a verification with a failed check: mlenv verify
// exits 1 for it.
var ErrVerifyFailed = errors.New("the lock does not hold")

// Check is one verification and its outcome: "ok", "warn" or "fail", with
// a code for the outcomes tools act on (the Code constants).
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
	// informs: the detail is worth reading when the check passes too
	// (what is fresh, where packages come from).
	informs bool
}

// Line is the check as verify prints it: status, name, the detail where
// it says something (a failure, a warning, or an informing check), and
// the code.
func (c Check) Line() string {
	line := fmt.Sprintf("%-4s %s", c.Status, c.Name)
	if c.Detail != "" && (c.Status != "ok" || c.informs) {
		line += ": " + c.Detail
	}
	if c.Code != "" {
		line += " [" + c.Code + "]"
	}
	return line
}

// What upstream did to a locked image, as verify reports it.
const (
	CodeTagMoved   = "tag-moved"   // the tag points at another digest (warn; --strict fails)
	CodeTagGone    = "tag-gone"    // the tag is deleted; the digest may still be pulled (warn)
	CodeDigestGone = "digest-gone" // the locked digest is deleted (fail)
)

// VerifyReport is every check of a verification.
type VerifyReport struct {
	Lock   string  `json:"lock"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// VerifyOptions say which checks to make.
type VerifyOptions struct {
	Registry *registry.Registry
	Offline  bool // only the checks that need no network
	Strict   bool // a moved tag fails instead of warning
	// Build gives what computing an environment's digests needs (the
	// registry, the indexes' credentials, pip for files that are not
	// wheels), where this machine has not computed them (envrecord); nil:
	// such environments are a warning.
	Build *Options
	// Deep, when set, installs the environment afresh and compares it with
	// the lock (runner.Lazy's VerifyEnv).
	Deep func(context.Context, *lock.Lock) error
}

// Verify is `mlenv verify`: offline, the project's lock is well-formed and
// fresh; online, every locked digest still exists in its registry and the
// tag still points at it; with Deep, the environment builds as locked. The
// report is returned also when a check failed: the error is then a
// *lock.StaleError for a stale lock, else wraps ErrVerifyFailed.
func Verify(ctx context.Context, p *lock.Project, o VerifyOptions) (*VerifyReport, error) {
	l, err := lock.Require(p.LockPath)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Lock: p.LockPath}
	fresh := p.Freshness(l)
	rep.add("fresh", statusOf(fresh.Fresh, "fail"), fresh.Reason())
	rep.Checks[len(rep.Checks)-1].informs = true
	if sources := packageSources(l); sources != "" {
		rep.Checks = append(rep.Checks, Check{Name: "package sources", Status: "ok", Detail: sources, informs: true})
	}
	if fresh.Fresh {
		verifyEnvs(ctx, o, l, rep)
	}
	if !o.Offline && fresh.Fresh {
		if err := verifyRegistry(ctx, o, l, rep); err != nil {
			return nil, err
		}
		verifyFiles(ctx, o.filesClient(), l, rep)
		if o.Deep != nil {
			err := o.Deep(ctx, l)
			rep.add("environment matches the lock", statusOf(err == nil, "fail"), errText(err))
		}
	}
	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			rep.OK = false
		}
	}
	switch {
	case !fresh.Fresh:
		return rep, &lock.StaleError{Path: p.LockPath, Reason: fresh.Reason(), Hint: "run `mlenv lock`"}
	case !rep.OK:
		return rep, ErrVerifyFailed
	}
	return rep, nil
}

// filesClient is the HTTP client for the indexes, with their credentials
// where Build has them.
func (o VerifyOptions) filesClient() *http.Client {
	if o.Build != nil {
		return o.Build.indexClient()
	}
	return Options{Registry: o.Registry}.indexClient()
}

func (r *VerifyReport) add(name, status, detail string) { r.addCode(name, status, "", detail) }

func (r *VerifyReport) addCode(name, status, code, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: status, Code: code, Detail: detail})
}

func statusOf(ok bool, otherwise string) string {
	if ok {
		return "ok"
	}
	return otherwise
}

// verifyRegistry checks every locked digest exists (HEAD, which Docker Hub
// does not count against pull limits) and whether the tag moved.
func verifyRegistry(ctx context.Context, o VerifyOptions, l *lock.Lock, rep *VerifyReport) error {
	repo, err := name.NewRepository(l.Image.Repository)
	if err != nil {
		return schema.BadInput(fmt.Errorf("%s: image.repository: %w", lock.FileName, err))
	}
	digests := []string{l.Image.Digest}
	for _, p := range l.Image.Platforms {
		if p.Digest != l.Image.Digest {
			digests = append(digests, p.Digest)
		}
	}
	for _, d := range digests {
		_, err := o.Registry.Head(ctx, repo.Digest(d))
		if registry.IsNotFound(err) {
			rep.addCode("exists "+repo.Digest(d).String(), "fail", CodeDigestGone, "the locked image no longer exists in its registry: restore it from `mlenv vendor`'s archive (`mlenv run --from DIR`), or re-lock with `mlenv lock --upgrade`")
			continue
		}
		rep.add("exists "+repo.Digest(d).String(), statusOf(err == nil, "fail"), reason(err))
	}
	if l.Image.Tag == "" {
		return nil
	}
	moved := "warn"
	if o.Strict {
		moved = "fail"
	}
	d, err := o.Registry.Head(ctx, repo.Tag(l.Image.Tag))
	switch {
	case registry.IsNotFound(err):
		rep.addCode("tag "+l.Image.Tag, "warn", CodeTagGone, "the tag no longer exists in the registry; the locked digest may still be pulled (see its exists check)")
	case err != nil:
		rep.add("tag "+l.Image.Tag, "warn", "could not check the tag: "+reason(err))
	case d.Digest.String() != l.Image.Digest:
		rep.addCode("tag "+l.Image.Tag, moved, CodeTagMoved, fmt.Sprintf("the tag now points at %s; the lock keeps %s (`mlenv lock --upgrade` would move)", d.Digest, l.Image.Digest))
	default:
		rep.add("tag "+l.Image.Tag, "ok", "still points at the locked digest")
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// packageSources names where the lock's packages come from: each index,
// and the hosts of file URLs elsewhere, so that a moved index shows.
func packageSources(l *lock.Lock) string {
	var indexes, hosts []string
	for _, p := range l.Packages {
		if p.Index != "" && !slices.Contains(indexes, p.Index) {
			indexes = append(indexes, p.Index)
		}
		if u, err := url.Parse(p.URL); err == nil && p.URL != "" && !slices.Contains(hosts, u.Host) && !strings.Contains(p.Index, "://"+u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	if len(indexes) == 0 {
		return ""
	}
	s := "indexes " + strings.Join(indexes, ", ")
	if len(hosts) > 0 {
		s += "; files from " + strings.Join(hosts, ", ")
	}
	return s
}

// reason is err's message without the reference a check already names.
func reason(err error) string {
	var re *registry.Error
	if errors.As(err, &re) {
		return re.Reason()
	}
	return errText(err)
}

// verifyEnvs checks that each platform's env digests are the ones its base
// image and packages make: by this machine's record of what mlenv
// computed; where there is none, online, by computing them (and recording
// them), offline, a warning that they are not checked yet.
func verifyEnvs(ctx context.Context, o VerifyOptions, l *lock.Lock, rep *VerifyReport) {
	store, storeErr := envrecord.Default()
	for _, pl := range l.Image.Platforms {
		name := "environment " + pl.Platform
		if pl.EnvConfig == "" || len(l.PackagesFor(pl.Platform)) == 0 {
			continue // none recorded (older lock), or the base image itself
		}
		if storeErr != nil {
			rep.add(name, "warn", storeErr.Error())
			continue
		}
		ok, err := store.Check(l, pl.Platform)
		switch {
		case err != nil:
			rep.add(name, "fail", err.Error())
		case ok:
			rep.add(name, "ok", "env "+pl.EnvDigest+" is what mlenv computed here from the base image and locked files")
		case o.Offline || o.Build == nil:
			rep.add(name, "warn", "mlenv has not computed this environment on this machine, so its env digests are not checked: run `mlenv verify` online")
		default:
			bo := *o.Build
			bo.FreshLayers = true // the digests are checked from the wheels alone
			status, detail := envStatus(computeEnv(ctx, l, pl.Platform, bo))
			rep.add(name, status, detail)
		}
	}
}

func envStatus(err error) (string, string) {
	if err != nil {
		return "fail", err.Error()
	}
	return "ok", "computed from the base image and locked files: the lock's env digests"
}
