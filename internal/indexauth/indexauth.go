// Package indexauth finds credentials for package indexes where pip users
// keep them — ${VAR}s in an index URL's user information, expanded from
// the environment, and ~/.netrc (or $NETRC) — and gives them only to the
// origin (scheme, host and port) they were given for: to mlenv's own
// downloads through Transport, and to pip as index URLs with an explicit
// port in a private host file mounted read-only into mlenv's containers
// (pip keys what it sends by host:port as written, so a redirect to
// another port, or from https to http, gets none). They reach no lock,
// image, argv, log or error.
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
	"strings"
	"time"

	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

type cred struct{ login, password string }

// Auth holds credentials by origin ("https://host:443").
type Auth struct {
	byOrigin map[string]cred
	missing  map[string]error // origins whose ${VAR}s are not set
}

// Load gathers the credentials for indexURLs: the user information of
// each (its ${VAR}s expanded from the environment), for that index's
// origin; where it has none, the user's netrc entry for its host. A netrc
// entry also applies to https on its host's default port, and nowhere
// else. An unset ${VAR} is an error only once its origin is needed, so
// that a run from a built environment needs no credentials.
func Load(indexURLs []string) (*Auth, error) {
	a := &Auth{byOrigin: map[string]cred{}, missing: map[string]error{}}
	netrc, err := readNetrc()
	if err != nil {
		return nil, err
	}
	for host, c := range netrc {
		a.byOrigin["https://"+host+":443"] = c
	}
	for _, raw := range indexURLs {
		expanded, err := schema.ExpandURL(raw, os.LookupEnv)
		if err != nil {
			if u, perr := url.Parse(redact.URL(raw)); perr == nil {
				a.missing[origin(u)] = err
			}
			continue
		}
		u, err := url.Parse(expanded)
		if err != nil {
			continue
		}
		if u.User != nil {
			pw, _ := u.User.Password()
			a.byOrigin[origin(u)] = cred{u.User.Username(), pw}
		} else if c, ok := netrc[u.Hostname()]; ok {
			a.byOrigin[origin(u)] = c
		}
	}
	return a, nil
}

// origin is u's scheme, host and port, the port explicit.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port(u)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// readNetrc reads $NETRC, else ~/.netrc, where it exists: host → login.
func readNetrc() (map[string]cred, error) {
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		path = filepath.Join(home, ".netrc")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parseNetrc(data), nil
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

// IndexLines are the requirements-file options that name indexes for
// pip (the first --index-url, the others --extra-index-url), each with
// its credentials and an explicit port where it has credentials; secret
// says whether any has, and so whether the lines must stay in a private
// file (File). An index whose ${VAR}s are unset is an error.
func (a *Auth) IndexLines(indexes []string) (lines string, secret bool, err error) {
	var b strings.Builder
	for i, raw := range indexes {
		u, err := url.Parse(raw)
		if err != nil {
			return "", false, fmt.Errorf("index %s: %w", redact.URL(raw), err)
		}
		if a != nil {
			if err := a.missing[origin(u)]; err != nil {
				return "", false, err
			}
			if c, ok := a.byOrigin[origin(u)]; ok {
				u.User, u.Host, secret = url.UserPassword(c.login, c.password), u.Hostname()+":"+port(u), true
				if strings.Contains(u.Hostname(), ":") {
					u.Host = "[" + u.Hostname() + "]:" + port(u)
				}
			}
		}
		fmt.Fprintf(&b, "%s %s\n", lock.IndexFlag(i), u)
	}
	return b.String(), secret, nil
}

// File writes content (lines with credentials) to a new private file
// (mode 0600 in a 0700 directory) and returns its path and the function
// that removes it.
func File(content string) (path string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "mlenv-indexes-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// Transport sends basic authentication to the origins that have
// credentials, for mlenv's own downloads; a redirect to another origin
// is followed without them (the header is set here, per request, never on
// the request the client copies for a redirect).
func (a *Auth) Transport(next http.RoundTripper) http.RoundTripper {
	if a == nil || len(a.byOrigin)+len(a.missing) == 0 {
		return next
	}
	return authTransport{a, next}
}

type authTransport struct {
	auth *Auth
	next http.RoundTripper
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.auth.missing[origin(req.URL)]; err != nil {
		return nil, err
	}
	if c, ok := t.auth.byOrigin[origin(req.URL)]; ok && req.Header.Get("Authorization") == "" {
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
