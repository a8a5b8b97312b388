package schema

import (
	"fmt"
	"net/url"
	"strings"
)

// CheckURL accepts an http(s) URL with a host, no fragment and no
// whitespace or control characters: the rule for package indexes and
// files, in mlenv.toml and in the lock.
func CheckURL(raw string) error {
	if !Plain(raw) {
		return fmt.Errorf("%q holds whitespace or control characters", RedactURL(raw))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", RedactURL(raw))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q is not an http(s) URL", RedactURL(raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q has a fragment", RedactURL(raw))
	}
	return nil
}

// RedactURL drops the user information (user:password@) from a URL, so
// that credentials reach no lock, log or error. It is the one redaction
// mlenv has. A string that does not parse as a URL loses everything
// between "://" and the last "@" before the path.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return raw
		}
		u.User = nil
		return u.String()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	host, path, hasPath := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if hasPath {
		return scheme + "://" + host + "/" + path
	}
	return scheme + "://" + host
}
