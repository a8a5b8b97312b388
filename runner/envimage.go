package runner

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/internal/filelock"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
)

//go:embed install.py
var installScript []byte

// installPath is where the installer script goes in its container.
const installPath = lock.Dir + "/install.py"

// Labels mlenv puts on what it creates, so `mlenv cache` finds them.
const (
	LabelEnv      = envimage.LabelEnv      // on environment images: the environment key
	LabelBase     = envimage.LabelBase     // on environment images: the base image by digest
	LabelPlatform = envimage.LabelPlatform // on environment images
	LabelRun      = "dev.mlenv.run"        // on run containers
	LabelPipCache = "dev.mlenv.pip-cache"
)

// EnvImagePrefix names environment images: mlenv-env:<key>.
const EnvImagePrefix = "mlenv-env"

// Env is the environment a run uses: the base image, and the packages to
// install on top for one platform.
type Env struct {
	Lock     *lock.Lock
	Locked   lock.Platform // the platform's pins, env and env-config included
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
		Lock: l, Locked: pl,
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

// Key identifies the environment (envimage.Key).
func (e Env) Key() string {
	return envimage.Key(e.Base.Config, e.Base.Platform, e.Lock.Image.EnvLayout, e.Packages)
}

// Image is the environment image's name.
func (e Env) Image() string { return EnvImagePrefix + ":" + e.Key() }

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
		return []string{"--no-index", "--find-links", lock.WheelsDir}
	}
	return []string{}
}

// EnvOptions say how EnsureEnv gets the environment image.
type EnvOptions struct {
	Rebuild  bool      // build afresh even when the engine has the image
	Progress io.Writer // pull progress and pip's output, or nil
	// Base gives the locked base image (its manifest and config; its
	// layers only where the engine must be sent them); nil: none, and an
	// image that must be built cannot be.
	Base func(ctx context.Context) (v1.Image, error)
	// Cache is the env-cache repository ([run] env-cache): an environment
	// the engine lacks is pulled from there by its locked digest before
	// anything is built.
	Cache string
	// Client downloads the locked files (nil: http.DefaultClient).
	Client *http.Client
	// OnInstall, when set, is told before a build; Warn and Info, when
	// set, get warnings and what the build does.
	OnInstall func(image string, packages int)
	Warn      func(string)
	Info      func(string)
}

// EnsureEnv returns the image a run starts from, by ID: the base image
// itself when the lock installs nothing, else the environment image whose
// ID is the lock's env-config. The engine's copy is used when it has one
// with that ID; otherwise it is pulled from the env-cache by digest, or
// built (envimage) and checked against the lock before it enters the
// engine. An image that is not the locked one is never returned: a build
// that does not reproduce the lock's digest is a *NotReproducibleError.
func (e *Engine) EnsureEnv(ctx context.Context, env Env, o EnvOptions) (string, error) {
	base, err := e.EnsureImage(ctx, env.Base, o.Progress)
	if err != nil {
		return "", err
	}
	if len(env.Packages) == 0 {
		return base, nil
	}
	trusted, err := e.trusted(env, o)
	if err != nil {
		return "", err
	}
	if !o.Rebuild && trusted {
		if id, ok := e.lockedEnv(ctx, env, o.Warn); ok {
			return id, nil // the warm path takes no lock
		}
	}
	// One build of an environment at a time for this user: a second run
	// waits, then finds the image the first one made.
	unlock, err := buildMutex(ctx, env.Key(), o.Info)
	if err != nil {
		return "", err
	}
	defer unlock()
	if !o.Rebuild && trusted {
		if id, ok := e.lockedEnv(ctx, env, nil); ok {
			return id, nil
		}
		if id, ok := e.pullEnv(ctx, env, o); ok {
			return id, nil
		}
	}
	if !trusted {
		tell(o.Info, fmt.Sprintf("mlenv has not computed the %s environment %s on this machine: building it from the locked files to check the lock's env digests before any image is run, pulled or named by them", env.Base.Platform, env.Locked.EnvConfig))
	}
	return e.buildEnv(ctx, env, o)
}

// trusted says whether the lock's env digests for env are ones mlenv
// computed here from the same inputs (envrecord); a lock without them
// (older mlenv) names its environment by key, and is built when missing.
func (e *Engine) trusted(env Env, o EnvOptions) (bool, error) {
	if env.Locked.EnvConfig == "" {
		return true, nil
	}
	store, err := envrecord.Default()
	if err != nil {
		return false, err
	}
	return store.Check(env.Lock, env.Base.Platform)
}

// lockedEnv finds the locked environment in the engine by its ID (a name
// can be moved by anyone; an ID is its content's digest) and names it
// mlenv-env:<key>. A lock without env-config (older mlenv) is found by
// that name. A name that points elsewhere is said to, and not used.
func (e *Engine) lockedEnv(ctx context.Context, env Env, warn func(string)) (string, bool) {
	want := env.Locked.EnvConfig
	named, nameErr := e.Client.ImageInspect(ctx, env.Image())
	if want == "" {
		return env.Image(), nameErr == nil
	}
	if nameErr == nil && named.ID != want && warn != nil {
		warn(fmt.Sprintf("the engine's %s is image %s, not the locked environment %s (re-tagged or changed since it was built): mlenv does not run it", env.Image(), named.ID, want))
	}
	if _, err := e.Client.ImageInspect(ctx, want); err != nil {
		return "", false
	}
	if nameErr != nil || named.ID != want {
		e.name(ctx, want, env.Image(), warn)
	}
	return want, true
}

// name tags the image id as name, so that `mlenv cache` and `docker
// images` show the environment by name. Runs go by the ID, so a name that
// cannot be given is said (to warn) and the run goes on.
func (e *Engine) name(ctx context.Context, id, name string, warn func(string)) {
	if _, err := e.Client.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: name}); err != nil {
		tell(warn, fmt.Sprintf("could not name the environment %s %s: %v (mlenv runs it by its ID all the same)", id, name, err))
	}
}

// pullEnv pulls the locked environment from the env-cache by its digest;
// a cache that lacks it (or cannot be reached) is said so, and the caller
// builds.
func (e *Engine) pullEnv(ctx context.Context, env Env, o EnvOptions) (string, bool) {
	if o.Cache == "" || env.Locked.EnvDigest == "" || e.Offline {
		return "", false
	}
	ref := ImageRef{Repository: o.Cache, Digest: env.Locked.EnvDigest, Platform: env.Base.Platform, Config: env.Locked.EnvConfig}
	if _, err := e.EnsureImage(ctx, ref, o.Progress); err != nil {
		tell(o.Info, fmt.Sprintf("env-cache %s: %v; building the environment instead", ref, err))
		return "", false
	}
	e.name(ctx, env.Locked.EnvConfig, env.Image(), o.Warn)
	tell(o.Info, fmt.Sprintf("Pulled the environment %s from env-cache %s", env.Locked.EnvConfig, o.Cache))
	return env.Locked.EnvConfig, true
}

// buildMutex serializes the builds of one environment among this user's
// processes: the lock file is in the user's own runtime directory. A wait
// says for whom, and ends with ctx (a signal).
func buildMutex(ctx context.Context, key string, info func(string)) (func(), error) {
	dir, err := userdir.Runtime()
	if err != nil {
		return nil, fmt.Errorf("serialize builds of environment %s: %w", key, err)
	}
	unlock, err := filelock.Private(ctx, filepath.Join(dir, "env-"+key+".lock"), func(holder string) {
		tell(info, fmt.Sprintf("waiting for another mlenv (%s) building the environment %s", holder, key))
	})
	if err != nil {
		return nil, fmt.Errorf("serialize builds of environment %s: %w", key, err)
	}
	return unlock, nil
}

// buildEnv builds the environment, checks it is the locked one, loads it
// into the engine as mlenv-env:<key> and returns its ID.
func (e *Engine) buildEnv(ctx context.Context, env Env, o EnvOptions) (string, error) {
	if o.Base == nil {
		return "", fmt.Errorf("the engine has no environment image %s and mlenv has no source for the base image's manifest to build one", env.Locked.EnvConfig)
	}
	baseImg, err := o.Base(ctx)
	if err != nil {
		return "", err
	}
	if o.OnInstall != nil {
		o.OnInstall(env.Image(), len(env.Packages))
	}
	id, err := e.buildAndLoad(ctx, env, o, baseImg, false)
	if wrong := (*envimage.WrongLayerError)(nil); errors.As(err, &wrong) {
		// A cached layer digest was wrong (and is gone): once more, every
		// layer computed from its wheel.
		tell(o.Warn, wrong.Error())
		id, err = e.buildAndLoad(ctx, env, o, baseImg, true)
	}
	return id, err
}

// buildAndLoad builds the environment (fresh, or with --rebuild: every
// layer from its wheel, trusting no cached layer digest), checks it is the
// locked one and loads what the engine lacks.
func (e *Engine) buildAndLoad(ctx context.Context, env Env, o EnvOptions, baseImg v1.Image, fresh bool) (string, error) {
	built, err := envimage.Build(ctx, env.Lock, env.Base.Platform, baseImg, envimage.Options{
		Client: env.Auth.Client(o.Client), Wheelhouse: env.Wheelhouse, Info: o.Info, Warn: o.Warn, Pip: e.pipVenv(env, o), Phases: e.Phases,
		NoLayerCache: fresh || o.Rebuild,
	})
	if err != nil {
		return "", err
	}
	defer built.Close()
	if want := env.Locked.EnvConfig; want != "" && (built.Config.String() != want || built.Digest.String() != env.Locked.EnvDigest) {
		return "", e.notReproducible(ctx, env, built)
	}
	if err := e.remember(env, built); err != nil {
		return "", err
	}
	if id, ok := e.lockedEnv(ctx, env, nil); ok && !o.Rebuild {
		return id, nil // the engine had it: checked now, not loaded again
	}
	old, _ := e.Client.ImageInspect(ctx, env.Image())
	if err := e.LoadEnv(ctx, built.Image, env.Image()); err != nil {
		return "", err
	}
	if old.ID != "" && old.ID != built.Config.String() {
		e.removeReplaced(ctx, old.ID)
	}
	return built.Config.String(), nil
}

// remember records the digests of a build (envrecord).
func (e *Engine) remember(env Env, built *envimage.Built) error {
	if env.Locked.EnvConfig == "" {
		return nil
	}
	store, err := envrecord.Default()
	if err == nil {
		err = store.Remember(envrecord.Inputs(env.Lock, env.Base.Platform), built.Image)
	}
	if err != nil {
		return fmt.Errorf("record the environment mlenv computed: %w", err)
	}
	return nil
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

// pipVenv installs locked files that are not wheels with pip in a
// throwaway container of the base image (lock's install recipe, no
// bytecode) and returns a tar of its venv (envimage.Options.Pip).
func (e *Engine) pipVenv(env Env, o EnvOptions) func(context.Context, string, []lock.Package) (io.ReadCloser, error) {
	return func(ctx context.Context, platform string, pkgs []lock.Package) (io.ReadCloser, error) {
		env := env
		env.Packages = pkgs
		id, err := e.pipInstall(ctx, env, o)
		if err != nil {
			return nil, err
		}
		res, err := e.Client.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: lock.VenvPath})
		if err != nil {
			e.remove(id)
			return nil, fmt.Errorf("read the venv from the install container: %w", err)
		}
		return removeAfter{ReadCloser: res.Content, remove: func() { e.remove(id) }}, nil
	}
}

type removeAfter struct {
	io.ReadCloser
	remove func()
}

func (r removeAfter) Close() error {
	err := r.ReadCloser.Close()
	r.remove()
	return err
}

// pipInstall runs the installer in a container and returns the stopped
// container, which the caller removes.
func (e *Engine) pipInstall(ctx context.Context, env Env, o EnvOptions) (string, error) {
	requirements, secret, err := env.requirements()
	if err != nil {
		return "", err
	}
	pipEnv, files := lock.PipEnv, map[string][]byte{installPath: installScript}
	if build := env.Lock.BuildFor(env.Base.Platform); len(build) > 0 {
		// pip's isolated build environments install exactly the locked
		// build requirements: PIP_CONSTRAINT reaches the pip they run.
		pipEnv = append(slices.Clone(pipEnv), "PIP_CONSTRAINT="+lock.BuildConstraintsPath)
		files[lock.BuildConstraintsPath] = []byte(lock.Constraints(build))
	}
	request, err := json.Marshal(map[string]any{
		"env": pipEnv, "venv_args": lock.VenvArgs, "venv_python": lock.VenvPython,
		"install_argv": lock.InstallArgv(lock.RequirementsPath), "extra_args": append(env.installArgs(), "--no-compile"),
	})
	if err != nil {
		return "", err
	}
	req := task.Request{
		Repository: env.Base.Repository, Digest: env.Base.Digest, Platform: env.Base.Platform, Config: env.Base.Config,
		Files:    files,
		Volumes:  map[string]string{env.PipCache: lock.PipCacheDir},
		Progress: o.Progress,
		Binds:    map[string]string{},
	}
	files[lock.RequestPath] = request
	if env.Wheelhouse != "" {
		req.Binds[env.Wheelhouse] = lock.WheelsDir
	}
	if secret {
		// With credentials, the requirements file stays a private host
		// file, mounted read-only, never in the container's layer.
		path, remove, err := indexauth.File(requirements)
		if err != nil {
			return "", err
		}
		defer remove()
		req.Binds[path] = lock.RequirementsPath
	} else {
		req.Files[lock.RequirementsPath] = []byte(requirements)
	}
	var id string
	var res *task.Result
	err = task.WithPython(func(python string) (err error) {
		req.Argv = []string{python, installPath, lock.RequestPath}
		if id != "" {
			e.remove(id)
		}
		id, res, err = e.runTask(ctx, req, true)
		return err
	})
	if err == nil && res.ExitCode != 0 {
		err = &InstallError{Output: string(res.Stderr) + string(res.Stdout), PipCache: env.PipCache}
		if index := env.Auth.Refuser(ctx, env.indexes()); index != "" && env.Wheelhouse == "" {
			err = &indexauth.RefusedError{Index: index, Err: err}
		}
	}
	if errors.Is(err, task.ErrNoPython) {
		err = fmt.Errorf("image %s has no python3 or python: it cannot install the locked [pip] packages", env.Base)
	}
	if err != nil {
		if id != "" {
			e.remove(id)
		}
		return "", e.emulationHint(ctx, env.Base.Platform, err)
	}
	if evicted := evictedFiles(string(res.Stderr)); len(evicted) > 0 && o.Warn != nil {
		o.Warn(fmt.Sprintf("the pip cache (volume %s) held a copy of %s that does not match mlenv.lock: mlenv evicted it and fetched the file again from the index", env.PipCache, strings.Join(evicted, ", ")))
	}
	return id, nil
}

// requirements is the hash-pinned requirements file for env's packages;
// secret says it holds the indexes' credentials (indexauth.IndexLines).
func (env Env) requirements() (string, bool, error) {
	pins, err := lock.Pins(env.Packages)
	if err != nil {
		return "", false, err
	}
	if env.Wheelhouse != "" {
		plain, err := lock.Requirements(env.Packages)
		return plain, false, err
	}
	lines, secret, err := env.Auth.IndexLines(env.indexes())
	if err != nil {
		return "", false, err
	}
	for _, h := range lock.TrustedHosts(env.indexes()) {
		lines += "--trusted-host " + h + "\n"
	}
	return lines + pins, secret, nil
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

// emulationHint explains a container of another platform than the
// engine's that could not run its program (exec format error): the engine
// has no emulation for it.
func (e *Engine) emulationHint(ctx context.Context, platform string, err error) error {
	native, nerr := e.NativePlatform(ctx)
	if nerr != nil || native == platform || !strings.Contains(err.Error(), "exec format error") {
		return err
	}
	return fmt.Errorf("the %s environment has files that are not wheels, which pip must install in a %s container, and this %s engine runs one only under emulation: install Debian's qemu-user-static and binfmt-support (which register the %s interpreter with the kernel), or build on a %s machine: %w",
		platform, platform, native, platform, platform, err)
}
