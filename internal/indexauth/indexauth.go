// Package indexauth finds credentials for package indexes where pip users
// keep them — ${VAR}s in an index URL's user information, expanded from
// the environment, and ~/.netrc (or $NETRC) — and hands them to pip as a
// netrc file in a private host file mounted read-only into mlenv's
// containers, so that they reach no lock, image, argv, log or error.
package indexauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Env is the environment that points pip (through requests) at the netrc
// file mounted at lock.NetrcPath.
var Env = "NETRC=" + lock.NetrcPath

type cred struct{ login, password string }

// Auth holds credentials by host name.
type Auth struct {
	byHost  map[string]cred
	missing map[string]error // hosts whose ${VAR}s are not set
}

// Load gathers the credentials for indexURLs: the user information of each
// (its ${VAR}s expanded from the environment), over the user's netrc. An
// unset ${VAR} is an error only once its host is needed (File), so that a
// run from a built environment needs no credentials.
func Load(indexURLs []string) (*Auth, error) {
	a := &Auth{byHost: map[string]cred{}, missing: map[string]error{}}
	if err := a.readNetrc(); err != nil {
		return nil, err
	}
	for _, raw := range indexURLs {
		expanded, err := schema.ExpandURL(raw, os.LookupEnv)
		if err != nil {
			if u, perr := url.Parse(redact.URL(raw)); perr == nil {
				a.missing[u.Hostname()] = err
			}
			continue
		}
		u, err := url.Parse(expanded)
		if err != nil || u.User == nil {
			continue
		}
		pw, _ := u.User.Password()
		a.byHost[u.Hostname()] = cred{u.User.Username(), pw}
	}
	return a, nil
}

// readNetrc reads $NETRC, else ~/.netrc, where it exists.
func (a *Auth) readNetrc() error {
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".netrc")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for host, c := range parseNetrc(data) {
		a.byHost[host] = c
	}
	return nil
}

// parseNetrc reads the machine entries of a netrc file (default and macdef
// entries are skipped: mlenv hands out credentials only for named hosts).
func parseNetrc(data []byte) map[string]cred {
	out := map[string]cred{}
	var host string
	var c cred
	flush := func() {
		if host != "" {
			out[host] = c
		}
		host, c = "", cred{}
	}
	words := bufio.NewScanner(bytes.NewReader(data))
	words.Split(bufio.ScanWords)
	for words.Scan() {
		switch words.Text() {
		case "machine":
			flush()
			if words.Scan() {
				host = words.Text()
			}
		case "default":
			flush()
		case "login":
			if words.Scan() {
				c.login = words.Text()
			}
		case "password":
			if words.Scan() {
				c.password = words.Text()
			}
		case "account":
			words.Scan()
		case "macdef":
			flush()
			return out // a macro runs to a blank line; mlenv stops reading there
		}
	}
	flush()
	return out
}

// hosts are the known hosts among urls, sorted.
func (a *Auth) hosts(urls []string) []string {
	var out []string
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil {
			if _, ok := a.byHost[u.Hostname()]; ok && !slices.Contains(out, u.Hostname()) {
				out = append(out, u.Hostname())
			}
		}
	}
	slices.Sort(out)
	return out
}

// File writes a netrc with the credentials for the hosts of urls to a new
// private file (mode 0600 in a 0700 directory) and returns its path and
// the function that removes it; path is "" when no credentials apply.
func (a *Auth) File(urls []string) (path string, remove func(), err error) {
	if a == nil {
		return "", func() {}, nil
	}
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && a.missing[u.Hostname()] != nil {
			return "", nil, a.missing[u.Hostname()]
		}
	}
	hosts := a.hosts(urls)
	if len(hosts) == 0 {
		return "", func() {}, nil
	}
	var b strings.Builder
	for _, h := range hosts {
		c := a.byHost[h]
		fmt.Fprintf(&b, "machine %s login %s password %s\n", h, c.login, c.password)
	}
	dir, err := os.MkdirTemp("", "mlenv-netrc-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "netrc")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// Transport sends basic authentication to the hosts that have
// credentials, for mlenv's own downloads (mlenv vendor).
func (a *Auth) Transport(next http.RoundTripper) http.RoundTripper {
	if a == nil || len(a.byHost)+len(a.missing) == 0 {
		return next
	}
	return authTransport{a, next}
}

type authTransport struct {
	auth *Auth
	next http.RoundTripper
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.auth.missing[req.URL.Hostname()]; err != nil {
		return nil, err
	}
	if c, ok := t.auth.byHost[req.URL.Hostname()]; ok && req.Header.Get("Authorization") == "" {
		req = req.Clone(req.Context())
		req.SetBasicAuth(c.login, c.password)
	}
	return t.next.RoundTrip(req)
}

// Refuser returns the first of indexURLs that answers 401 or 403 to a
// request with the credentials mlenv has, or "". pip, given none to try,
// says only "from versions: none"; this tells a failed resolution or
// install that the index wanted authentication.
func (a *Auth) Refuser(ctx context.Context, indexURLs []string) string {
	client := &http.Client{Transport: a.Transport(http.DefaultTransport), Timeout: 10 * time.Second}
	for _, raw := range indexURLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(raw, "/")+"/", nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return redact.URL(raw)
		}
	}
	return ""
}

// Refused reports whether pip's output says an index refused it for want
// of credentials (HTTP 401 or 403).
func Refused(output string) bool {
	for _, s := range []string{"401 Client Error", "403 Client Error", "HTTP error 401", "HTTP error 403", "401 Error", "403 Error", "Unauthorized for url", "Forbidden for url"} {
		if strings.Contains(output, s) {
			return true
		}
	}
	return false
}

// RefusedError is a resolution or install that failed because an index
// asked for authentication.
type RefusedError struct {
	Index string
	Err   error // what pip said
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused: %s\n%v", e.Index, Hint, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Hint says how to supply credentials, for errors.
const Hint = "the package index asked for authentication (HTTP 401/403): put the credentials in ~/.netrc " +
	"(machine HOST login USER password TOKEN; or point NETRC at such a file), or in the index URL from environment variables, " +
	`index-url = "https://${INDEX_USER}:${INDEX_TOKEN}@HOST/simple"; mlenv never writes them into the lock or an image`

// Client is c (nil: a new client) sending the credentials Transport sends.
func (a *Auth) Client(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	if out.Transport == nil {
		out.Transport = http.DefaultTransport
	}
	out.Transport = a.Transport(out.Transport)
	return out
}
