package runner

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner/indexauth"
	"github.com/mlenv/mlenv/runner/task"
)

//go:embed install.py
var installScript []byte

// Labels mlenv puts on what it creates, so `mlenv cache` finds them.
const (
	LabelEnv      = "dev.mlenv.env"      // on environment images: the environment key
	LabelBase     = "dev.mlenv.base"     // on environment images: the base image by digest
	LabelPlatform = "dev.mlenv.platform" // on environment images
	LabelRun      = "dev.mlenv.run"      // on run containers
	LabelPipCache = "dev.mlenv.pip-cache"
)

// EnvImagePrefix names environment images: mlenv-env:<key>.
const EnvImagePrefix = "mlenv-env"

// Env is the environment a run uses: the base image, and the packages to
// install on top for one platform.
type Env struct {
	Base     ImageRef
	Packages []lock.Package
	PipCache string // the named volume for pip's cache
	// Wheelhouse, when set, is a host directory of the locked wheels
	// (`mlenv vendor`): pip installs from it and no index.
	Wheelhouse string
	// Auth has the indexes' credentials (nil: none), handed to pip as a
	// mounted netrc file that never enters the image.
	Auth *indexauth.Auth
}

// EnvFor selects the lock's packages for platform.
func EnvFor(l *lock.Lock, platform, pipCache string) (Env, error) {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		have := l.Image.PlatformNames()
		return Env{}, fmt.Errorf("the lock has no %s image (it has %s): add %q to [image] platforms and run `mlenv lock`", platform, strings.Join(have, ", "), platform)
	}
	return Env{
		Base:     ImageRef{Repository: l.Image.Repository, Digest: l.Image.Digest, Platform: platform, Config: pl.Config},
		Packages: l.PackagesFor(platform),
		PipCache: pipCache,
	}, nil
}

// EnvKeys are the keys of l's environments, one per locked platform.
func EnvKeys(l *lock.Lock) []string {
	var keys []string
	for _, p := range l.Image.Platforms {
		if env, err := EnvFor(l, p.Platform, l.Run.PipCache); err == nil && len(env.Packages) > 0 {
			keys = append(keys, env.Key())
		}
	}
	return keys
}

// Key identifies the installed environment: the base image's config and
// the exact files installed, with the index and URL each came from. Run
// settings do not count, so changing them reuses the environment.
func (e Env) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "mlenv-env v2\n%s\n%s\n%s\n", e.Base.Config, e.Base.Platform, lock.VenvPath)
	for _, p := range e.Packages {
		fmt.Fprintf(h, "%s==%s %s %s %s\n", p.Name, p.Version, strings.Join(p.Hashes, ","), p.Index, p.URL)
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:20]
}

// Image is the environment image's name.
func (e Env) Image() string { return EnvImagePrefix + ":" + e.Key() }

// urls are the indexes and files the locked packages come from.
func (e Env) urls() []string {
	var out []string
	for _, p := range e.Packages {
		out = append(out, p.Index, p.URL)
	}
	return out
}

// indexes are the indexes the locked packages come from.
func (e Env) indexes() []string {
	var out []string
	for _, p := range e.Packages {
		if !slices.Contains(out, p.Index) {
			out = append(out, p.Index)
		}
	}
	return out
}

// installArgs are the installer's arguments beyond the hash-pinned file
// (which names the lock's indexes): the wheelhouse, and no index, when the
// environment is restored from a vendor archive.
func (e Env) installArgs() []string {
	if e.Wheelhouse != "" {
		return []string{"--no-index", "--find-links", "/opt/mlenv/wheels"}
	}
	return []string{}
}

// EnvOptions say how EnsureEnv builds.
type EnvOptions struct {
	Rebuild  bool      // install afresh even when the image exists
	Progress io.Writer // pull progress and pip's output, or nil
	// OnInstall, when set, is told before pip runs; Warn, when set, gets
	// warnings (a bad copy evicted from the pip cache).
	OnInstall func(image string, packages int)
	Warn      func(string)
}

// EnsureEnv returns the image a run starts from: the base image itself
// when the lock installs nothing, else the environment image, built (the
// locked packages installed with hashes required, pip's cache on the
// named volume) when it is missing or o.Rebuild is set.
func (e *Engine) EnsureEnv(ctx context.Context, env Env, o EnvOptions) (string, error) {
	base, err := e.EnsureImage(ctx, env.Base, o.Progress)
	if err != nil {
		return "", err
	}
	if len(env.Packages) == 0 {
		return base, nil
	}
	if !o.Rebuild {
		if _, err := e.Client.ImageInspect(ctx, env.Image()); err == nil {
			return env.Image(), nil // the warm path takes no lock
		}
	}
	// One build of an environment at a time on this host: a second run
	// waits, then finds the image the first one made.
	if unlock, err := buildLock(env.Key()); err == nil {
		defer unlock()
	}
	old, err := e.Client.ImageInspect(ctx, env.Image())
	switch {
	case err == nil && !o.Rebuild:
		return env.Image(), nil
	case err != nil && !cerrdefs.IsNotFound(err):
		return "", err
	}
	if o.OnInstall != nil {
		o.OnInstall(env.Image(), len(env.Packages))
	}
	if err := e.buildEnv(ctx, env, o); err != nil {
		return "", err
	}
	if old.ID != "" {
		e.removeReplaced(ctx, old.ID)
	}
	return env.Image(), nil
}

// buildLock serializes the builds of one environment among the processes
// of this host (all users: the lock files live in a shared, sticky
// directory).
func buildLock(key string) (func(), error) {
	dir := filepath.Join(os.TempDir(), "mlenv-locks")
	if err := os.MkdirAll(dir, 0o777|os.ModeSticky); err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o777|os.ModeSticky) // best effort: only its owner may
	return lock.Flock(filepath.Join(dir, "env-"+key+".lock"))
}

// removeReplaced removes the image a rebuild replaced, only when the
// rebuild took its last name: one that someone else also named stays.
func (e *Engine) removeReplaced(ctx context.Context, id string) {
	old, err := e.Client.ImageInspect(ctx, id)
	if err != nil || len(names(old.RepoTags)) > 0 || old.Config == nil || old.Config.Labels[LabelEnv] == "" {
		return
	}
	e.RemoveEnv(ctx, CachedEnv{ID: id})
}

func (e *Engine) buildEnv(ctx context.Context, env Env, o EnvOptions) error {
	requirements, err := lock.Requirements(env.Packages)
	if err != nil {
		return err
	}
	netrc, remove, err := env.Auth.File(env.urls())
	if err != nil {
		return err
	}
	defer remove()
	pipEnv := lock.PipEnv
	if netrc != "" {
		pipEnv = append(slices.Clone(pipEnv), indexauth.Env)
	}
	request, err := json.Marshal(map[string]any{
		"env": pipEnv, "venv_args": lock.VenvArgs, "venv_python": lock.VenvPython,
		"install_argv": lock.InstallArgv("/opt/mlenv/requirements.txt"), "extra_args": env.installArgs(),
	})
	if err != nil {
		return err
	}
	req := task.Request{
		Repository: env.Base.Repository, Digest: env.Base.Digest, Platform: env.Base.Platform, Config: env.Base.Config,
		Files: map[string][]byte{"/opt/mlenv/install.py": installScript, "/opt/mlenv/request.json": request,
			"/opt/mlenv/requirements.txt": []byte(requirements)},
		Volumes:  map[string]string{env.PipCache: lock.PipCacheDir},
		Progress: o.Progress,
	}
	req.Binds = map[string]string{}
	if env.Wheelhouse != "" {
		req.Binds[env.Wheelhouse] = "/opt/mlenv/wheels"
	}
	if netrc != "" {
		req.Binds[netrc] = indexauth.ContainerPath
	}
	var id string
	var res *task.Result
	err = task.WithPython(func(python string) (err error) {
		req.Argv = []string{python, "/opt/mlenv/install.py", "/opt/mlenv/request.json"}
		id, res, err = e.runTask(ctx, req, true)
		return err
	})
	if id != "" {
		defer e.remove(id)
	}
	if errors.Is(err, task.ErrNoPython) {
		return fmt.Errorf("image %s has no python3 or python: it cannot install the locked [pip] packages", env.Base)
	}
	if err != nil {
		return err
	}
	if evicted := evictedFiles(string(res.Stderr)); res.ExitCode == 0 && len(evicted) > 0 && o.Warn != nil {
		o.Warn(fmt.Sprintf("the pip cache (volume %s) held a copy of %s that does not match mlenv.lock: mlenv evicted it and fetched the file again from the index", env.PipCache, strings.Join(evicted, ", ")))
	}
	if res.ExitCode != 0 {
		err := &InstallError{Output: string(res.Stderr) + string(res.Stdout), PipCache: env.PipCache}
		if index := env.Auth.Refuser(ctx, env.indexes()); index != "" && env.Wheelhouse == "" {
			return &indexauth.RefusedError{Index: index, Err: err}
		}
		return err
	}
	return e.commitEnv(ctx, id, env, req.Argv[0])
}

// commitEnv saves the installed container as the environment image, with
// the venv first on PATH and the base image's entrypoint, command, user
// and working directory (its command, where it has none, is python).
func (e *Engine) commitEnv(ctx context.Context, id string, env Env, python string) error {
	baseName, err := e.localImage(ctx, env.Base)
	if err != nil {
		return err
	}
	base, err := e.Client.ImageInspect(ctx, baseName)
	if err != nil {
		return err
	}
	cfg := base.Config
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	var vars []string
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			continue
		}
		vars = append(vars, kv)
	}
	cmd := cfg.Cmd
	if len(cmd) == 0 {
		cmd = []string{python}
	}
	labels := map[string]string{LabelEnv: env.Key(), LabelBase: env.Base.String(), LabelPlatform: env.Base.Platform}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	config := &container.Config{
		Env:        append(vars, lock.VenvEnv(path)...),
		Entrypoint: cfg.Entrypoint,
		Cmd:        cmd,
		User:       orDefault(cfg.User, "0:0"),
		WorkingDir: orDefault(cfg.WorkingDir, "/"),
		Labels:     labels,
	}
	// The config goes as a config (docker) and as Dockerfile changes
	// (podman's compat API takes only these): the same values either way.
	_, err = e.Client.ContainerCommit(ctx, id, client.ContainerCommitOptions{
		Reference: env.Image(),
		Comment:   "mlenv environment",
		Config:    config,
		Changes:   commitChanges(config),
	})
	if err != nil {
		return fmt.Errorf("save the environment image: %w", err)
	}
	return nil
}

// commitChanges spells config as the Dockerfile instructions a commit
// applies.
func commitChanges(c *container.Config) []string {
	var out []string
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, "ENV "+k+"="+dockerfileQuote(v))
	}
	if len(c.Entrypoint) > 0 {
		out = append(out, "ENTRYPOINT "+jsonArgv(c.Entrypoint))
	}
	out = append(out, "CMD "+jsonArgv(c.Cmd), "USER "+c.User, "WORKDIR "+c.WorkingDir)
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		out = append(out, "LABEL "+dockerfileQuote(k)+"="+dockerfileQuote(c.Labels[k]))
	}
	return out
}

// dockerfileQuote double-quotes s for a Dockerfile instruction, escaping
// what the Dockerfile parser would read otherwise ($ included).
func dockerfileQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(s) + `"`
}

func jsonArgv(argv []string) string {
	b, _ := json.Marshal(argv)
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// InstallError is a failed install of the locked packages, with pip's
// reason (a hash mismatch says the file is not the one locked).
type InstallError struct {
	Output   string
	PipCache string // the pip-cache volume
}

// evictedPrefix starts the installer's line for each file it evicted from
// the pip cache after a hash mismatch (install.py).
const evictedPrefix = "mlenv: evicted from the pip cache: "

// evictedFiles are the URLs whose cached copies the installer evicted.
func evictedFiles(output string) []string {
	var out []string
	for _, line := range strings.Split(output, "\n") {
		if u, ok := strings.CutPrefix(line, evictedPrefix); ok {
			out = append(out, strings.TrimSpace(u))
		}
	}
	return out
}

func (e *InstallError) Error() string {
	msg := "installing the locked packages failed"
	switch {
	case indexauth.Refused(e.Output):
		msg = "installing the locked packages failed: " + indexauth.Hint
	case strings.Contains(e.Output, "DO NOT MATCH THE HASHES"):
		msg = "a downloaded package does not match the hash in mlenv.lock: the index serves another file than was locked (never run it); check the index, or re-lock with `mlenv lock --upgrade`"
		if len(evictedFiles(e.Output)) > 0 {
			msg += fmt.Sprintf(" (it is not the pip cache's doing: mlenv evicted the copy in volume %s and fetched the file again)", e.PipCache)
		}
	}
	return msg + ":\n" + task.Indent(task.LastLines(e.Output, 15))
}
