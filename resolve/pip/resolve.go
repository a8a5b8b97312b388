// Package pip pins [pip] inside the locked image: it reads the
// requirements (mlenv.toml and the requirements file), runs pip's resolver
// in the image through a container task, and merges the platforms'
// answers into the lock's packages.
package pip

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

//go:embed pip_resolve.py
var pipScript []byte

// Where the resolver's files go in its container.
const (
	resolvePath     = lock.Dir + "/resolve.py"
	constraintsPath = lock.Dir + "/constraints.txt"
)

// Resolver resolves [pip] inside the pinned image.
type Resolver struct {
	Exec     task.Executor
	Progress io.Writer // pull progress and pip's output, or nil
	// Auth has the indexes' credentials (nil: none); pip gets them as a
	// netrc file mounted into its container, never on its command line.
	Auth *indexauth.Auth
}

// Input is what a pip resolution needs.
type Input struct {
	Spec  *schema.Spec
	Image lock.Image
	// Keep pins these packages (name → version) for --upgrade-package:
	// everything locked before except the packages being upgraded.
	Keep map[string]string
	// Isolated resolves as for pip's isolated build environment: what
	// the image has installed is ignored (build requirements).
	Isolated bool
}

// Result is what the lock records of the python side.
type Result struct {
	Python string
	// Executable is the interpreter a venv links to (sys._base_executable).
	Executable string
	Base       []lock.Dist
	Packages   []lock.Package
	Framework  map[string]any // torch's own report: torch, cuda, cudnn
}

// scriptResult is pip_resolve.py's output.
type scriptResult struct {
	Python            string         `json:"python"`
	Executable        string         `json:"executable"`
	Implementation    string         `json:"implementation"`
	Pip               *string        `json:"pip"`
	ExternallyManaged bool           `json:"externally_managed"`
	Base              []lock.Dist    `json:"base"`
	Framework         map[string]any `json:"framework"`
	ABI               string         `json:"abi"`
	Packages          []scriptPkg    `json:"packages"`
	Error             *struct {
		Kind, Message string
	} `json:"error"`
}

type scriptPkg struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	URL       string   `json:"url"`
	Requested bool     `json:"requested"`
	Hashes    []string `json:"hashes"`
}

// Resolve runs pip in the image for every locked platform: natively for
// the engine's own platform, with pip's cross-platform flags for the
// others (binary wheels only). Packages the same on every platform get one
// entry; the others say which platforms they are for.
func (p *Resolver) Resolve(ctx context.Context, in Input) (*Result, error) {
	reqs, err := Requirements(in.Spec)
	if err != nil {
		return nil, err
	}
	native, err := p.Exec.NativePlatform(ctx)
	if err != nil {
		return nil, fmt.Errorf("[pip] packages are resolved inside the image, which needs a Docker engine: %w", err)
	}
	host, ok := in.Image.Platform(native)
	if !ok {
		return nil, fmt.Errorf("this engine runs %s images, and the lock has no %s platform to run pip in: add %q to [image] platforms, or lock on a %s machine",
			native, native, native, in.Image.Platforms[0].Platform)
	}
	first, err := p.run(ctx, in, reqs, host, nil)
	if err != nil {
		return nil, err
	}
	perPlatform := map[string][]scriptPkg{host.Platform: first.Packages}
	for _, pl := range in.Image.Platforms {
		if pl.Platform == host.Platform {
			continue
		}
		c, err := crossFlags(pl.Platform, first)
		if err != nil {
			return nil, err
		}
		r, err := p.run(ctx, in, reqs, host, c)
		if err != nil {
			return nil, fmt.Errorf("resolve for %s: %w", pl.Platform, err)
		}
		perPlatform[pl.Platform] = r.Packages
	}
	base := first.Base
	if in.Isolated {
		base = nil // nothing replaces what the image has: the build environment is its own
	}
	return &Result{
		Python:     first.Python,
		Executable: first.Executable,
		Base:       first.Base,
		Packages:   mergePlatforms(perPlatform, in.Spec, base),
		Framework:  first.Framework,
	}, nil
}

// run executes the resolver script once, with the image's python3 or, where
// there is none, python.
func (p *Resolver) run(ctx context.Context, in Input, reqs []Requirement, pl lock.Platform, cross map[string]any) (*scriptResult, error) {
	lines, secret, err := p.Auth.IndexLines(in.Spec.Pip.PublicIndexes())
	if err != nil {
		return nil, err
	}
	files, err := scriptFiles(in, reqs, cross, secret)
	if err != nil {
		return nil, err
	}
	req := task.Request{
		Repository: in.Image.Repository, Digest: in.Image.Digest, Platform: pl.Platform, Config: pl.Config,
		Env:      lock.PipEnv,
		Files:    files,
		Volumes:  map[string]string{in.Spec.Run.PipCache: lock.PipCacheDir},
		Progress: p.Progress,
	}
	if secret {
		// The indexes with their credentials reach pip in a private host
		// file mounted read-only, never on its command line.
		path, remove, err := indexauth.File(lines)
		if err != nil {
			return nil, err
		}
		defer remove()
		req.Binds = map[string]string{path: lock.IndexesPath}
	}
	var res *task.Result
	err = task.WithPython(func(python string) (err error) {
		req.Argv = []string{python, resolvePath, lock.RequestPath}
		res, err = p.Exec.Exec(ctx, req)
		return err
	})
	if errors.Is(err, task.ErrNoPython) {
		return nil, &NoPythonError{Image: in.Image.ByDigest()}
	}
	if err != nil {
		return nil, err
	}
	r, err := parseScriptResult(in, res)
	var pipErr *Error
	if errors.As(err, &pipErr) && pipErr.Hint != indexauth.Hint {
		if index := p.Auth.Refuser(ctx, in.Spec.Pip.PublicIndexes()); index != "" {
			return nil, &indexauth.RefusedError{Index: index, Err: err}
		}
	}
	return r, err
}

// scriptFiles are the resolver's script, request and requirements; with
// indexFile, the request names the mounted index file (credentials) in
// place of the public index URLs.
func scriptFiles(in Input, reqs []Requirement, cross map[string]any, indexFile bool) (map[string][]byte, error) {
	lines := make([]string, len(reqs))
	for i, r := range reqs {
		lines[i] = r.Line
	}
	request := map[string]any{
		"venv":              lock.VenvPath,
		"venv_args":         lock.VenvArgs,
		"requirements_file": lock.RequirementsPath,
		"requirement_lines": lines,
		"index_url":         redact.URL(in.Spec.Pip.IndexURL),
		"extra_index_urls":  in.Spec.Pip.PublicIndexes()[1:],
		"trusted_hosts":     lock.TrustedHosts(in.Spec.Pip.PublicIndexes()),
		"probe_framework":   cross == nil,
	}
	files := map[string][]byte{
		resolvePath:           pipScript,
		lock.RequirementsPath: []byte(strings.Join(lines, "\n") + "\n"),
	}
	if len(in.Keep) > 0 {
		var pins []string
		for _, n := range slices.Sorted(maps.Keys(in.Keep)) {
			pins = append(pins, n+"=="+in.Keep[n])
		}
		request["constraints_file"] = constraintsPath
		files[constraintsPath] = []byte(strings.Join(pins, "\n") + "\n")
	}
	if indexFile {
		delete(request, "index_url")
		delete(request, "extra_index_urls")
		request["index_file"] = lock.IndexesPath
	}
	if cross != nil {
		request["cross"] = cross
	}
	if in.Isolated {
		request["isolated"] = true
	}
	b, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	files[lock.RequestPath] = b
	return files, nil
}

func parseScriptResult(in Input, res *task.Result) (*scriptResult, error) {
	var r scriptResult
	out := strings.TrimSpace(string(res.Stdout))
	if i := strings.LastIndex(out, "\n"); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("pip resolution in %s failed (exit %d):\n%s", in.Image.Repository, res.ExitCode, task.LastLines(string(res.Stderr), 20))
	}
	if r.Error != nil {
		return nil, scriptError(in, &r)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("pip resolution failed (exit %d):\n%s", res.ExitCode, task.LastLines(string(res.Stderr), 20))
	}
	return &r, nil
}

// crossFlags are pip's flags to resolve for another platform with the
// same python as the native image.
func crossFlags(platform string, native *scriptResult) (map[string]any, error) {
	arch := map[string]string{"linux/arm64": "aarch64", "linux/arm64/v8": "aarch64", "linux/amd64": "x86_64", "linux/ppc64le": "ppc64le", "linux/s390x": "s390x"}[platform]
	if arch == "" {
		return nil, fmt.Errorf("mlenv cannot resolve pip packages for %s on this engine: lock on a %s machine or remove it from [image] platforms", platform, platform)
	}
	var tags []string
	for minor := 40; minor >= 17; minor-- {
		tags = append(tags, fmt.Sprintf("manylinux_2_%d_%s", minor, arch))
	}
	tags = append(tags, "manylinux2014_"+arch, "linux_"+arch)
	parts := strings.Split(native.Python, ".")
	impl := "cp"
	if native.Implementation != "cpython" {
		impl = "py"
	}
	return map[string]any{
		"platforms": tags, "python_version": strings.Join(parts[:min(2, len(parts))], "."),
		"implementation": impl, "abi": native.ABI,
	}, nil
}
