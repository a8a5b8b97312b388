package family

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlenv/mlenv/internal/version"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// ReadVersions merges what the tag says (cand, may be nil) with what the
// config says (config wins: it is more precise, 12.1.1 where the tag says
// 12.1), and adds the minimum driver.
func ReadVersions(fam *Family, cand *Candidate, cfg *v1.ConfigFile) lock.Versions {
	vs := map[Field]version.Version{}
	src := map[Field]string{}
	if cand != nil {
		for f, v := range cand.Versions {
			vs[f], src[f] = v, cand.Sources[f]
		}
	}
	env := configEnv(cfg)
	for _, f := range []Field{FieldFramework, FieldCUDA, FieldCuDNN, FieldPython, FieldDriver, FieldRelease} {
		if v, from, ok := fromConfig(fam, f, env, cfg); ok {
			vs[f], src[f] = v, from
		}
	}
	if fam != nil && fam.VersionField == FieldCUDA {
		vs[FieldFramework], src[FieldFramework] = vs[FieldCUDA], src[FieldCUDA]
	}
	out := lock.Versions{
		FrameworkVersion: vs[FieldFramework].Raw,
		CUDA:             vs[FieldCUDA].Raw,
		CuDNN:            vs[FieldCuDNN].Raw,
		Python:           vs[FieldPython].Raw,
		Sources:          map[string]string{},
	}
	if fam != nil && out.FrameworkVersion != "" {
		out.Framework = fam.Framework
	}
	if out.MinDriver = version.MinDriver(vs[FieldCUDA]); out.MinDriver != "" {
		src[FieldDriver] = "table"
	} else if d := vs[FieldDriver]; !d.IsZero() {
		out.MinDriver = d.Raw
	}
	for f, s := range src {
		if key := sourceKey(f); key != "" && s != "" {
			out.Sources[key] = s
		}
	}
	if out.MinDriver == "" {
		delete(out.Sources, "min-driver")
	}
	if archs := version.ArchsFromList(env["TORCH_CUDA_ARCH_LIST"]); len(archs) > 0 {
		out.CUDAArchs, out.Sources["cuda-archs"] = archs, "env:TORCH_CUDA_ARCH_LIST"
	}
	return out
}

// RequireCUDA is what the NVIDIA container runtime will ask of the host
// for an image: its NVIDIA_REQUIRE_CUDA, else NGC's CUDA_DRIVER_VERSION as
// driver>=X, with where it was read; "" when the config says neither.
func RequireCUDA(cfg *v1.ConfigFile) (requirement, source string) {
	env := configEnv(cfg)
	if r := strings.Join(strings.Fields(env["NVIDIA_REQUIRE_CUDA"]), " "); r != "" {
		return r, "env:NVIDIA_REQUIRE_CUDA"
	}
	if d, err := version.Parse(env["CUDA_DRIVER_VERSION"]); err == nil {
		return "driver>=" + d.Raw, "env:CUDA_DRIVER_VERSION"
	}
	return "", ""
}

func sourceKey(f Field) string {
	switch f {
	case FieldFramework:
		return "framework-version"
	case FieldDriver:
		return "min-driver"
	case FieldCUDA, FieldCuDNN, FieldPython:
		return string(f)
	}
	return ""
}

func fromConfig(fam *Family, f Field, env map[string]string, cfg *v1.ConfigFile) (version.Version, string, bool) {
	envNames, labelNames := genericEnv[f], []string(nil)
	if fam != nil {
		envNames, labelNames = fam.Env[f], fam.Labels[f]
	}
	for _, n := range envNames {
		if v, err := version.Parse(env[n]); err == nil {
			return v, "env:" + n, true
		}
	}
	if cfg != nil {
		for _, n := range labelNames {
			if v, err := version.Parse(cfg.Config.Labels[n]); err == nil {
				return v, "label:" + n, true
			}
		}
	}
	return version.Version{}, "", false
}

// genericEnv is where any image may say its versions, for explicit refs
// outside the known families.
var genericEnv = map[Field][]string{
	FieldCUDA:   {"CUDA_VERSION"},
	FieldCuDNN:  {"NV_CUDNN_VERSION", "CUDNN_VERSION"},
	FieldPython: {"PYTHON_VERSION"},
	FieldDriver: {"CUDA_DRIVER_VERSION"},
}

func configEnv(cfg *v1.ConfigFile) map[string]string {
	env := map[string]string{}
	if cfg == nil {
		return env
	}
	for _, kv := range cfg.Config.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}

// NoMatchError says no tag satisfies [image], with the nearest tags.
type NoMatchError struct {
	Repo    string
	Tags    int
	Want    string
	Nearest []string
}

func (e *NoMatchError) Error() string {
	s := fmt.Sprintf("no tag of %s satisfies %s (%d tags listed)", e.Repo, e.Want, e.Tags)
	if len(e.Nearest) > 0 {
		s += "; nearest:\n\t" + strings.Join(e.Nearest, "\n\t")
	}
	return s + "\nloosen the constraints in mlenv.toml [image]"
}

func NoMatch(repo name.Repository, im schema.Image, tags int, near []Rejection) error {
	var want []string
	for _, kv := range [][2]string{{"version", im.Version}, {"cuda", im.CUDA}, {"cudnn", im.CuDNN}, {"variant", im.Variant}, {"os", im.OS}, {"os-version", im.OSVersion}} {
		if kv[1] != "" {
			want = append(want, fmt.Sprintf("%s %s", kv[0], kv[1]))
		}
	}
	e := &NoMatchError{Repo: repo.String(), Tags: tags, Want: strings.Join(want, ", ")}
	if e.Want == "" {
		e.Want = "[image]"
	}
	for _, r := range near {
		e.Nearest = append(e.Nearest, fmt.Sprintf("%s: %s", r.Tag, strings.Join(r.why, "; ")))
	}
	return e
}
