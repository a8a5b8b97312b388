package envimage

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/lock"
)

// IndexFile is one file a simple index (PEP 503) lists for a project.
type IndexFile struct {
	URL      string // absolute, without its hash fragment
	Filename string
	SHA256   string // "sha256:…" from the link's fragment; "" where the index gives none
	Yanked   bool   // PEP 592
	Reason   string // why it was yanked, where the index says
}

// maxSimplePage bounds a project's page (torch's, with every file of every
// release, is a few MB).
const maxSimplePage = 32 << 20

var anchorRe = regexp.MustCompile(`(?is)<a\s([^>]*)>([^<]*)</a>`)
var attrRe = regexp.MustCompile(`(?is)([a-z-]+)\s*(?:=\s*"([^"]*)"|=\s*'([^']*)')?`)

// simplePage is the address of a project's page on a simple index.
func simplePage(index, project string) string {
	return strings.TrimSuffix(index, "/") + "/" + lock.NormalizeName(project) + "/"
}

// ListFiles reads the simple page of a project on index.
func ListFiles(ctx context.Context, client *http.Client, index, project string) ([]IndexFile, error) {
	page := simplePage(index, project)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redact.URL(page), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", redact.URL(page), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSimplePage))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redact.URL(page), err)
	}
	return parseSimplePage(page, string(body)), nil
}

// parseSimplePage reads the links of a simple page: href (its #sha256=
// fragment), data-yanked.
func parseSimplePage(page, body string) []IndexFile {
	base, _ := url.Parse(page)
	var out []IndexFile
	for _, a := range anchorRe.FindAllStringSubmatch(body, -1) {
		attrs := map[string]string{}
		present := map[string]bool{}
		for _, m := range attrRe.FindAllStringSubmatch(a[1], -1) {
			k := strings.ToLower(m[1])
			attrs[k], present[k] = html.UnescapeString(m[2]+m[3]), true
		}
		href, err := url.Parse(attrs["href"])
		if err != nil || attrs["href"] == "" {
			continue
		}
		f := IndexFile{Yanked: present["data-yanked"], Reason: attrs["data-yanked"]}
		if h, ok := strings.CutPrefix(href.Fragment, "sha256="); ok {
			f.SHA256 = "sha256:" + h
		}
		href.Fragment = ""
		abs := base.ResolveReference(href)
		f.URL, f.Filename = abs.String(), path.Base(abs.Path)
		out = append(out, f)
	}
	return out
}
