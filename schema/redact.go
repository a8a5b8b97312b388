package schema

import (
	"fmt"
	"net/url"
	"regexp"
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

var varRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ExpandURL expands ${VAR}s in a URL's user information with lookup, the
// way pip users keep index credentials out of their files. ${VAR} may stand
// only in the user information, so what a lock records does not depend on
// the machine; an unset variable is bad input naming it.
func ExpandURL(raw string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(raw, "${") {
		return raw, nil
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	at := strings.LastIndex(rest, "@")
	if at < 0 || strings.Contains(rest[at:], "${") || strings.Contains(scheme, "${") {
		return "", BadInput(fmt.Errorf("index URL %q: ${VAR} may stand only in the user information (https://${USER}:${TOKEN}@host/simple)", RedactURL(raw)))
	}
	var missing []string
	userinfo := varRe.ReplaceAllStringFunc(rest[:at], func(m string) string {
		name := varRe.FindStringSubmatch(m)[1]
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	})
	if len(missing) > 0 {
		return "", BadInput(fmt.Errorf("index URL %s uses ${%s}, which is not set: export it (or keep the credentials in ~/.netrc)", RedactURL(raw), strings.Join(missing, "}, ${")))
	}
	return scheme + "://" + userinfo + rest[at:], nil
}

// placeholder stands in for every ${VAR} when a URL is checked.
func placeholder(string) (string, bool) { return "x", true }
