package envimage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/lock"
)

// Fetch makes sure dir holds p's locked file, under its own file name,
// checked against the locked hashes, downloading it where it is missing;
// it returns the file's path. ph counts the bytes downloaded (nil: none).
func Fetch(ctx context.Context, client *http.Client, p lock.Package, dir string, ph *progress.Phase) (string, error) {
	fileURL := p.URL
	if client == nil {
		return inDir(p, dir)
	}
	if fileURL == "" {
		var err error
		if fileURL, err = findFile(ctx, client, p); err != nil {
			return "", err
		}
	}
	dest, err := download(ctx, client, fileURL, dir, p.Hashes, ph)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
	}
	return dest, nil
}

func download(ctx context.Context, client *http.Client, fileURL, dir string, hashes []string, ph *progress.Phase) (string, error) {
	u, err := url.Parse(fileURL)
	if err != nil {
		return "", err
	}
	dest := filepath.Join(dir, path.Base(u.Path))
	if ok, _ := hashMatches(dest, hashes); ok {
		now := time.Now()
		os.Chtimes(dest, now, now) // used: `mlenv cache prune` keeps it
		return dest, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fileURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", redact.URL(fileURL), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("download %s: %s: %s", redact.URL(fileURL), resp.Status, indexauth.Hint)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("download %s: %s", redact.URL(fileURL), resp.Status)
	}
	tmp, err := leftover.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), ph.Reader(resp.Body)); err != nil {
		tmp.Close()
		return "", fmt.Errorf("download %s: %w", redact.URL(fileURL), err)
	}
	tmp.Close()
	got := fmt.Sprintf("sha256:%x", h.Sum(nil))
	if !slices.Contains(hashes, got) {
		return "", &HashError{URL: redact.URL(fileURL), Got: got, Want: hashes}
	}
	return dest, os.Rename(tmp.Name(), dest)
}

func hashMatches(path string, hashes []string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return slices.Contains(hashes, fmt.Sprintf("sha256:%x", h.Sum(nil))), nil
}

// findFile looks up a locked package's file on its index's simple page
// (locks written with pip older than 22.2 have no URL): the link whose
// hash fragment is a locked hash.
func findFile(ctx context.Context, client *http.Client, p lock.Package) (string, error) {
	files, err := ListFiles(ctx, client, p.Index, p.Name)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if f.SHA256 != "" && slices.Contains(p.Hashes, f.SHA256) {
			return f.URL, nil
		}
	}
	return "", fmt.Errorf("%s %s: no file with a locked hash on %s", p.Name, p.Version, redact.URL(simplePage(p.Index, p.Name)))
}

// inDir finds p's locked file in dir (a wheelhouse) by its hash.
func inDir(p lock.Package, dir string) (string, error) {
	names := []string{}
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err == nil {
			names = append(names, path.Base(u.Path))
		}
	} else if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	for _, n := range names {
		if ok, _ := hashMatches(filepath.Join(dir, n), p.Hashes); ok {
			return filepath.Join(dir, n), nil
		}
	}
	return "", fmt.Errorf("%s %s: %s has no file with a locked hash (%s)", p.Name, p.Version, dir, strings.Join(p.Hashes, ", "))
}

// HashError is a downloaded file that is not the locked one.
type HashError struct {
	URL, Got string
	Want     []string
	Evicted  bool // a cached copy was bad too, and was removed first
}

func (e *HashError) Error() string {
	msg := fmt.Sprintf("a downloaded package does not match the hash in mlenv.lock: %s has %s, the lock says %s: the index serves another file than was locked (never run it); check the index, or re-lock with `mlenv lock --upgrade`",
		e.URL, e.Got, strings.Join(e.Want, ", "))
	if e.Evicted {
		msg += " (it is not the download cache's doing: mlenv removed its bad copy and fetched the file again)"
	}
	return msg
}
