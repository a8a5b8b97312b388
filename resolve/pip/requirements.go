package pip

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Requirement is one requirement line with where it was written.
type Requirement struct {
	Line   string
	Source string // "mlenv.toml:12" or "requirements.txt:3"
}

var (
	reqNameRe   = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)
	localPathRe = regexp.MustCompile(`^(\.{0,2}/|~|[A-Za-z]:\\)|\.(whl|tar\.gz|zip|tar\.bz2)$`)
)

// Requirements gathers [pip] packages and the requirements file, one line
// each, and refuses what cannot be locked reproducibly: pip options (which
// would change how pip resolves behind the lock's back), and local files or
// file:// URLs (their content is not addressable by anyone else).
func Requirements(s *schema.Spec) ([]Requirement, error) {
	var reqs []Requirement
	var errs schema.Errors
	for _, p := range s.Pip.Packages {
		r := Requirement{Line: strings.TrimSpace(p), Source: s.Path}
		if e := checkRequirement(r.Line); e != "" {
			err := s.Errorf("pip.packages", requirementHint(r.Line), "%q: %s", r.Line, e)
			errs = append(errs, err)
			continue
		}
		reqs = append(reqs, r)
	}
	text, err := s.RequirementsText()
	if err != nil {
		return nil, err
	}
	for _, l := range logicalLines(text) {
		if e := checkRequirement(l.text); e != "" {
			errs = append(errs, &schema.Error{File: s.Pip.Requirements, Line: l.n, Err: fmt.Errorf("%q: %s", l.text, e), Hint: requirementHint(l.text)})
			continue
		}
		reqs = append(reqs, Requirement{Line: l.text, Source: fmt.Sprintf("%s:%d", s.Pip.Requirements, l.n)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return reqs, nil
}

type logicalLine struct {
	n    int
	text string
}

// logicalLines joins backslash continuations and drops comments and blank
// lines, as pip reads a requirements file.
func logicalLines(text string) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, "\r")
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		if i := strings.Index(full, " #"); i >= 0 {
			full = full[:i]
		}
		if full = strings.TrimSpace(full); full == "" || strings.HasPrefix(full, "#") {
			continue
		}
		out = append(out, logicalLine{start, full})
	}
	return out
}

// checkRequirement says why a line cannot be locked, or "".
func checkRequirement(line string) string {
	switch {
	case editableProject(line):
		return "the project's own package cannot be locked (it is the project, not a dependency)"
	case strings.HasPrefix(line, "-"):
		return "pip options are not allowed in requirements"
	case strings.HasPrefix(line, "file:") || strings.Contains(line, "@ file:"):
		return "a local file cannot be locked"
	case localPathRe.MatchString(line) && !strings.Contains(line, "://"):
		return "a local file cannot be locked"
	case !reqNameRe.MatchString(line) && !strings.Contains(line, "://"):
		return "not a requirement specifier"
	}
	return ""
}

func requirementHint(line string) string {
	switch {
	case editableProject(line):
		return `remove the line: mlenv run mounts the project at [run] workdir, so import it from there with [run] env = { PYTHONPATH = "/src" } (your workdir), or list its dependencies here`
	case strings.HasPrefix(line, "-"):
		return "put indexes in [pip] index-url / extra-index-urls, and list other files' requirements directly"
	case strings.Contains(line, "file:") || localPathRe.MatchString(line):
		return "publish the package to an index (a local devpi works) and require it by name and version"
	}
	return `write a requirement like "numpy>=1.26" or "torch==2.1.0+cu121"`
}

// editableProject says whether line installs the project itself (-e .,
// -e ./, --editable=., or a bare "." or "./").
func editableProject(line string) bool {
	f := strings.Fields(strings.ReplaceAll(line, "=", " "))
	if len(f) == 2 && (f[0] == "-e" || f[0] == "--editable") {
		f = f[1:]
	}
	return len(f) == 1 && (f[0] == "." || f[0] == "./")
}
