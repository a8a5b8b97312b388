// Package redact keeps credentials out of what mlenv writes and says: a
// lock, a log line, an error. It is the one redaction mlenv has.
package redact

import (
	"net/url"
	"strings"
)

// URL drops the user information (user:password@) from a URL, so
// that credentials reach no lock, log or error. It is the one redaction
// mlenv has. A string that does not parse as a URL loses everything
// between "://" and the last "@" before the path.
func URL(raw string) string {
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
