package schema

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/Masterminds/semver/v3"
	"github.com/docker/go-units"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/internal/redact"
)

var (
	platformRe = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	volumeRe   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	// repositoryRe is a registry repository: [host[:port]/]path, lower case.
	repositoryRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$|^[a-z0-9]+([._-]+[a-z0-9]+)*$`)
	userRe       = regexp.MustCompile(`^(host|[0-9]+(:[0-9]+)?|[a-z_][a-z0-9_-]*(:[a-z0-9_-]+)?)$`)
)

// ValidPlatform reports whether p is spelt os/arch[/variant], the rule
// for platforms in mlenv.toml and in the lock.
func ValidPlatform(p string) bool { return platformRe.MatchString(p) }

func (s *Spec) validate() Errors {
	var errs Errors
	add := func(e *Error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	s.validateImage(add)
	s.validatePip(add)
	s.validateRun(add)
	return errs
}

func (s *Spec) validateImage(add func(*Error)) {
	im := s.Image
	switch {
	case im.Family == "" && im.Ref == "":
		add(s.Errorf("image", `add family = "pytorch" (with version constraints) or ref = "repo:tag"`, "neither family nor ref is set"))
	case im.Family != "" && im.Ref != "":
		add(s.Errorf("image.ref", "keep one: family with constraints, or ref for one exact image", "family and ref are both set"))
	}
	if im.Ref != "" {
		if _, err := name.ParseReference(im.Ref); err != nil {
			add(s.Errorf("image.ref", `write repo:tag or repo@sha256:<64 hex>, e.g. "pytorch/pytorch:2.1.2-cuda12.1-cudnn8-runtime"`, "invalid reference %q: %v", im.Ref, err))
		}
	}
	add(s.checkConstraint("image.version", im.Version, false))
	add(s.checkConstraint("image.cuda", im.CUDA, true))
	add(s.checkConstraint("image.cudnn", im.CuDNN, true))
	if im.Registry != "" {
		if _, err := name.NewRegistry(im.Registry, name.StrictValidation); err != nil || strings.Contains(im.Registry, "/") {
			add(s.Errorf("image.registry", `write a host with an optional port, e.g. "registry.example.com:5000"`, "invalid registry %q", im.Registry))
		}
	}
	seen := map[string]bool{}
	for _, p := range im.Platforms {
		if !platformRe.MatchString(p) {
			add(s.Errorf("image.platforms", `write os/arch[/variant], e.g. "linux/amd64" or "linux/arm64"`, "invalid platform %q", p))
		} else if seen[p] {
			add(s.Errorf("image.platforms", "list each platform once", "platform %q is listed twice", p))
		}
		seen[p] = true
	}
	if r := im.Resolution; r != "" && r != "highest" && r != "lowest" {
		add(s.Errorf("image.resolution", `use "highest" (newest matching image) or "lowest"`, "invalid resolution %q", r))
	}
}

// checkConstraint validates a semver constraint; "none" is allowed where
// the image may lack the component (a CPU image has no CUDA).
func (s *Spec) checkConstraint(key, c string, noneOK bool) *Error {
	if c == "" || (noneOK && c == "none") {
		return nil
	}
	if _, err := semver.NewConstraint(c); err != nil {
		hint := `use semver constraints such as "~2.1", ">=12.1, <13" or "8"`
		if noneOK {
			hint += `, or "none" for an image without it`
		}
		return s.Errorf(key, hint, "invalid version constraint %q: %v", c, err)
	}
	return nil
}

func (s *Spec) validatePip(add func(*Error)) {
	for _, p := range s.Pip.Packages {
		if strings.TrimSpace(p) == "" || strings.HasPrefix(strings.TrimSpace(p), "-") {
			add(s.Errorf("pip.packages", "list requirement specifiers like \"numpy>=1.26\"; put pip options in index-url / extra-index-urls", "%q is not a requirement", p))
		}
	}
	for key, u := range map[string][]string{"pip.index-url": {s.Pip.IndexURL}, "pip.extra-index-urls": s.Pip.ExtraIndexURLs} {
		for _, raw := range u {
			if raw == "" {
				continue
			}
			expanded, err := ExpandURL(raw, placeholder)
			if err != nil {
				add(s.Errorf(key, "write https://${USER}:${TOKEN}@host/simple", "%v", errors.Unwrap(err)))
				continue
			}
			if CheckURL(expanded) != nil {
				add(s.Errorf(key, `write an http(s) URL such as "https://pypi.org/simple"`, "invalid index URL %q", redact.URL(raw)))
			}
		}
	}
}

// flagSource is where ValidateRun's settings come from, in errors.
const flagSource = "command line"

// ValidateRun checks run settings given outside mlenv.toml (flags): the
// same rules as [run], without positions.
func ValidateRun(r Run) error {
	tmp := &Spec{Path: flagSource, Run: r}
	var errs Errors
	tmp.validateRun(func(e *Error) { errs = append(errs, e) })
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (s *Spec) validateRun(add func(*Error)) {
	r := s.Run
	for key, v := range map[string]string{"run.workdir": r.Workdir, "run.ipc": r.IPC, "run.network": r.Network, "run.user": r.User, "run.shm-size": r.ShmSize} {
		if !Plain(v) {
			add(s.Errorf(key, "remove the whitespace and control characters", "%q holds whitespace or control characters", v))
		}
	}
	for _, m := range r.Mounts {
		if !Plain(m) {
			add(s.Errorf("run.mounts", "remove the whitespace and control characters", "mount %q holds whitespace or control characters", m))
		}
	}
	for k, v := range r.Env {
		if strings.ContainsFunc(v, unicode.IsControl) {
			add(s.Errorf("run.env", "write the value on one line, without control characters", "the value of %q holds control characters (a line break?)", k))
		}
	}
	if r.Workdir != "" && !path.IsAbs(r.Workdir) {
		add(s.Errorf("run.workdir", `use an absolute container path such as "/src"`, "workdir %q is not absolute", r.Workdir))
	}
	if err := r.GPUs.validate(); r.GPUs != "" && err != nil {
		hint := `use "all", "none", "auto", a count, or device ids like ["0", "1"]`
		if s.Path == flagSource {
			hint = "use all, none, auto, a count, or device ids like 0,1 (or device=0,1)"
		}
		add(s.Errorf("run.gpus", hint, "%v", err))
	}
	if ipc := r.IPC; ipc != "" && ipc != "host" && ipc != "private" && ipc != "shareable" && ipc != "none" && !strings.HasPrefix(ipc, "container:") {
		add(s.Errorf("run.ipc", `use "host", "private", "shareable" or "none"`, "invalid ipc mode %q", ipc))
	}
	if r.ShmSize != "" {
		if _, err := units.RAMInBytes(r.ShmSize); err != nil {
			add(s.Errorf("run.shm-size", `write a size such as "8g" or "512m"`, "invalid size %q", r.ShmSize))
		}
	}
	for k := range r.Env {
		if !envNameRe.MatchString(k) {
			key := "run.env." + k
			if !Plain(k) {
				key = "run.env" // never print a forged name raw
			}
			add(s.Errorf(key, "environment names are letters, digits and _, not starting with a digit", "invalid environment variable name %q", k))
		}
	}
	for _, m := range r.Mounts {
		if err := checkMount(m); err != nil {
			add(s.Errorf("run.mounts", `write "host-path:/container/path" with an optional ":ro"`, "%v", err))
		}
	}
	for _, port := range r.Ports {
		if _, err := ParsePorts([]string{port}); err != nil || !Plain(port) {
			add(s.Errorf("run.ports", `write docker's -p syntax: "8888:8888", "127.0.0.1:6006:6006" or "8080:80/tcp"`, "invalid port %q", port))
		}
	}
	if len(r.Ports) > 0 && r.Network == "host" || len(r.Ports) > 0 && r.Network == "none" {
		add(s.Errorf("run.ports", `remove ports, or use network = "bridge" (with network = "host" the container's ports are the host's)`, "ports are published only on a container network, not network = %q", r.Network))
	}
	if r.EnvCache != "" && !repositoryRe.MatchString(r.EnvCache) {
		add(s.Errorf("run.env-cache", `name a repository such as "registry.example.com/team/envs" (no tag, no digest)`, "%q is not a repository", r.EnvCache))
	}
	if r.PipCache != "" && !volumeRe.MatchString(r.PipCache) {
		add(s.Errorf("run.pip-cache", "a volume name is letters, digits, '_', '.' and '-'", "invalid volume name %q", r.PipCache))
	}
	if strings.HasPrefix(r.User, "host:") {
		add(s.Errorf("run.user", `write "host" alone (your uid:gid), or a uid:gid such as "1000:1000"`, "user %q: host takes no group, it is your own uid:gid", r.User))
	} else if r.User != "" && !userRe.MatchString(r.User) {
		add(s.Errorf("run.user", `use "host", a uid[:gid] or a user name`, "invalid user %q", r.User))
	}
	if len(r.Command) > 0 && r.Command[0] == "" {
		add(s.Errorf("run.command", `write the command as an argv array, e.g. ["python", "train.py"]`, "the command's first element is empty"))
	}
}

// Mount is one parsed [run] mounts entry.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// ParseMount parses "src:dst[:ro|:rw]".
func ParseMount(m string) (Mount, error) {
	parts := strings.Split(m, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Mount{}, fmt.Errorf("invalid mount %q", m)
	}
	mt := Mount{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			mt.ReadOnly = true
		case "rw":
		default:
			return Mount{}, fmt.Errorf("invalid mount mode %q in %q (ro or rw)", parts[2], m)
		}
	}
	if !path.IsAbs(mt.Target) {
		return Mount{}, fmt.Errorf("mount target %q in %q is not an absolute path", mt.Target, m)
	}
	return mt, nil
}

func checkMount(m string) error {
	_, err := ParseMount(m)
	return err
}

func (s *Spec) applyDefaults() {
	im := &s.Image
	if len(im.Platforms) == 0 {
		im.Platforms = []string{DefaultPlatform}
	}
	if im.Resolution == "" {
		im.Resolution = DefaultResolution
	}
	r := &s.Run
	if r.GPUs == "" {
		r.GPUs = DefaultGPUs
	}
	if r.Workdir == "" {
		r.Workdir = DefaultWorkdir
	}
	if r.Network == "" {
		r.Network = DefaultNetwork
	}
	if r.PipCache == "" {
		r.PipCache = DefaultPipCache
	}
}

// Plain reports whether s has no whitespace and no control characters:
// the grammar of every value that may reach a command line or a file
// that another tool parses by lines.
func Plain(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}
