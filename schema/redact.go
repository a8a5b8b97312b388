package schema

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/mlenv/mlenv/internal/redact"
)

// CheckURL accepts an http(s) URL with a host, no fragment and no
// whitespace or control characters: the rule for package indexes and
// files, in mlenv.toml and in the lock.
func CheckURL(raw string) error {
	if !Plain(raw) {
		return fmt.Errorf("%q holds whitespace or control characters", redact.URL(raw))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", redact.URL(raw))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q is not an http(s) URL", redact.URL(raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q has a fragment", redact.URL(raw))
	}
	return nil
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
		return "", BadInput(fmt.Errorf("index URL %q: ${VAR} may stand only in the user information (https://${USER}:${TOKEN}@host/simple)", redact.URL(raw)))
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
		return "", BadInput(fmt.Errorf("index URL %s uses ${%s}, which is not set: export it (or keep the credentials in ~/.netrc)", redact.URL(raw), strings.Join(missing, "}, ${")))
	}
	return scheme + "://" + userinfo + rest[at:], nil
}

// placeholder stands in for every ${VAR} when a URL is checked.
func placeholder(string) (string, bool) { return "x", true }
