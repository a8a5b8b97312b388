package schema

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Hashes are the canonical digests of a spec: of the whole input and of
// each section, so that a stale lock can say what changed and reuse what
// did not. They depend on content, never on formatting, key order or
// comments.
type Hashes struct {
	Input string
	Image string
	Pip   string // the [pip] table and the requirements file's content
	Run   string
	// PipSection (the [pip] table alone) and Requirements (the file's
	// content) are set when the spec has [pip] and a requirements file;
	// RequirementsFile names that file.
	PipSection, Requirements string
	RequirementsFile         string
}

// Hashes computes the canonical hashes. The pip hash covers the content of
// the requirements file too.
func (s *Spec) Hashes() (Hashes, error) {
	im := s.Image
	im.Platforms = slices.Clone(im.Platforms)
	slices.Sort(im.Platforms)
	req, err := s.RequirementsText()
	if err != nil {
		return Hashes{}, err
	}
	pip := struct {
		Pip
		RequirementsContent string `json:"requirements-content,omitempty"`
	}{s.Pip, req}
	h := Hashes{Image: DigestJSON(im), Pip: DigestJSON(pip), Run: DigestJSON(s.Run)}
	if s.HasPip() {
		h.PipSection = DigestJSON(s.Pip)
	}
	if s.Pip.Requirements != "" {
		h.Requirements, h.RequirementsFile = DigestJSON(req), s.Pip.Requirements
	}
	h.Input = DigestJSON(struct {
		Project             Project
		Image, Pip, RunHash string
	}{s.Project, h.Image, h.Pip, h.Run})
	return h, nil
}

// RequirementsText is the content of the [pip] requirements file, or ""
// when there is none.
func (s *Spec) RequirementsText() (string, error) {
	if s.Pip.Requirements == "" {
		return "", nil
	}
	p, err := s.InsideProject(s.Pip.Requirements)
	if err != nil {
		return "", s.Errorf("pip.requirements", "move the file into the project, or set [project] allow-outside-paths = true", "%v", err)
	}
	b, err := ReadInput(p)
	if err != nil {
		e := s.Errorf("pip.requirements", "create the file or fix the path (relative to mlenv.toml)", "cannot read requirements file: %v", err)
		return "", e
	}
	return string(b), nil
}

// DigestJSON is the sha256 digest of v's JSON encoding, "sha256:<hex>": the
// canonical digest of plain data that the spec's hashes and the lock's
// integrity both use.
func DigestJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("schema: hashing %T: %v", v, err)) // plain data: cannot fail
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

// InsideProject resolves a path relative to the project directory and,
// unless [project] allow-outside-paths is set, refuses one that leaves it
// through .. or a symlink. A path that does not exist yet is checked as
// written.
func (s *Spec) InsideProject(p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.Dir, p)
	}
	if s.Project.AllowOutsidePaths {
		return p, nil
	}
	if real, inside, _ := ResolvePath(s.Dir, p); !inside {
		return "", fmt.Errorf("%s is outside the project directory %s", real, s.Dir)
	}
	return p, nil
}

// ResolvePath resolves p, relative to dir, through symlinks, and says
// whether the result lies inside dir. When p does not exist, err wraps
// fs.ErrNotExist and p is judged as written.
func ResolvePath(dir, p string) (real string, inside bool, err error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if d, derr := filepath.EvalSymlinks(dir); derr == nil {
		dir = d
	}
	if real, err = filepath.EvalSymlinks(p); err != nil {
		real = filepath.Clean(p)
	}
	rel, rerr := filepath.Rel(dir, real)
	return real, rerr == nil && rel != ".." && !strings.HasPrefix(rel, "../"), err
}
