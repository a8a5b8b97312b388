package resolve

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/lock"
)

// What upstream did to a locked file, as verify reports it.
const (
	CodeFileGone    = "file-gone"    // the index no longer lists or serves the file (fail)
	CodeFileChanged = "file-changed" // the index lists the file with another hash (fail)
	CodeFileYanked  = "file-yanked"  // the file is yanked, PEP 592 (warn)
)

// fileJobs bounds the requests verify makes at once to the indexes: 32,
// so a 100-package lock checks in the time of about 7 requests (each
// file is a page and a HEAD); a CDN-fronted index takes that easily.
const fileJobs = 32

// verifyFiles checks every locked file upstream: its index still lists it
// (with a locked hash where the index gives one) and not yanked, and its
// URL answers a HEAD; with the indexes' credentials. One check sums up
// the files that hold; each that does not is a check of its own.
func verifyFiles(ctx context.Context, client *http.Client, l *lock.Lock, rep *VerifyReport) {
	pkgs := append(slices.Clone(l.Packages), l.Build...) // what builds the sdists too
	if len(pkgs) == 0 {
		return
	}
	pages := &simplePages{client: client, pages: map[string]*simplePage{}}
	problems := make([]*Check, len(pkgs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(fileJobs)
	for i, p := range pkgs {
		g.Go(func() error {
			problems[i] = verifyFile(ctx, client, pages, p)
			return nil
		})
	}
	g.Wait()
	bad := 0
	for _, c := range problems {
		if c != nil {
			rep.Checks = append(rep.Checks, *c)
			bad++
		}
	}
	if held := len(pkgs) - bad; held > 0 {
		rep.add("locked files", "ok", fmt.Sprintf("%d of %d on their indexes", held, len(pkgs)))
		rep.Checks[len(rep.Checks)-1].informs = true
	}
}

// verifyFile is nil where p's file holds, else the check saying why not.
func verifyFile(ctx context.Context, client *http.Client, pages *simplePages, p lock.Package) *Check {
	file := path.Base(p.URL)
	if p.URL == "" {
		file = p.Name + " " + p.Version
	}
	fail := func(status, code, detail string) *Check {
		return &Check{Name: "file " + file, Status: status, Code: code, Detail: detail}
	}
	listed, err := pages.get(ctx, p.Index, p.Name)
	if err != nil {
		return fail("fail", "", fmt.Sprintf("its index could not be read: %v", err))
	}
	i := slices.IndexFunc(listed, func(f envimage.IndexFile) bool {
		return p.URL != "" && f.Filename == path.Base(p.URL) || p.URL == "" && slices.Contains(p.Hashes, f.SHA256)
	})
	if i < 0 {
		return fail("fail", CodeFileGone, fmt.Sprintf("%s no longer lists it: restore it from `mlenv vendor`'s archive (`mlenv run --from DIR`), or re-lock with `mlenv lock --upgrade-package %s`", redact.URL(p.Index), p.Name))
	}
	f := listed[i]
	if f.SHA256 != "" && len(p.Hashes) > 0 && !slices.Contains(p.Hashes, f.SHA256) {
		return fail("fail", CodeFileChanged, fmt.Sprintf("its index lists it with %s, the lock has %s: the file was replaced upstream; mlenv refuses it (restore from the archive, or re-lock)", f.SHA256, p.Hashes[0]))
	}
	if err := head(ctx, client, f.URL); err != nil {
		return fail("fail", CodeFileGone, fmt.Sprintf("its index lists it, but %v: restore it from `mlenv vendor`'s archive (`mlenv run --from DIR`)", err))
	}
	if f.Yanked {
		why := "no reason given"
		if f.Reason != "" {
			why = f.Reason
		}
		return fail("warn", CodeFileYanked, fmt.Sprintf("yanked on its index (%s): pip still installs it when pinned, as the lock does; consider `mlenv lock --upgrade-package %s`", why, p.Name))
	}
	return nil
}

// head asks whether fileURL answers: HEAD, or, from a server that does
// not take HEAD, a GET of its first byte.
func head(ctx context.Context, client *http.Client, fileURL string) error {
	status, err := ask(ctx, client, http.MethodHead, fileURL)
	if status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented {
		status, err = ask(ctx, client, http.MethodGet, fileURL)
	}
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", redact.URL(fileURL), err)
	case status != http.StatusOK && status != http.StatusPartialContent:
		return fmt.Errorf("%s answers %d %s", redact.URL(fileURL), status, http.StatusText(status))
	}
	return nil
}

func ask(ctx context.Context, client *http.Client, method, fileURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, fileURL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// simplePages reads each project's page once, for all its files.
type simplePages struct {
	client *http.Client
	mu     sync.Mutex
	pages  map[string]*simplePage
}

type simplePage struct {
	once  sync.Once
	files []envimage.IndexFile
	err   error
}

func (s *simplePages) get(ctx context.Context, index, project string) ([]envimage.IndexFile, error) {
	key := index + "\x00" + lock.NormalizeName(project)
	s.mu.Lock()
	pg, ok := s.pages[key]
	if !ok {
		pg = &simplePage{}
		s.pages[key] = pg
	}
	s.mu.Unlock()
	pg.once.Do(func() { pg.files, pg.err = envimage.ListFiles(ctx, s.client, index, project) })
	return pg.files, pg.err
}
