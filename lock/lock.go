// Package lock defines mlenv.lock: its types, deterministic encoding,
// strict decoding, atomic writes, the freshness check against an
// mlenv.toml, the project (an mlenv.toml and its lock), and the install
// recipe that every consumer of a lock follows.
package lock

import (
	"regexp"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// FormatVersion is the lock format this mlenv writes and reads.
const FormatVersion = 1

// FileName is the lock's file name, beside mlenv.toml.
const FileName = "mlenv.lock"

// Lock is the content of mlenv.lock. Its TOML field names are a contract
// that other tools read: add fields freely, rename none.
type Lock struct {
	Version   int       `toml:"version" json:"version"`
	Generator string    `toml:"generator" json:"generator"`
	InputHash string    `toml:"input-hash" json:"input-hash"`
	Image     Image     `toml:"image" json:"image"`
	Versions  Versions  `toml:"versions" json:"versions"`
	Base      []Dist    `toml:"base,omitempty" json:"base,omitempty"`
	Packages  []Package `toml:"package,omitempty" json:"package,omitempty"`
	// Build are the build requirements of the packages that are not
	// wheels ([build-system] requires), locked like packages: pip builds
	// those from exactly these pins. They are not in the environment.
	Build  []Package `toml:"build-package,omitempty" json:"build-package,omitempty"`
	Run    Run       `toml:"run" json:"run"`
	Inputs Inputs    `toml:"inputs" json:"inputs"`
	// Integrity is computed by Marshal and checked by Unmarshal.
	Integrity Integrity `toml:"integrity" json:"integrity"`
}

// Image pins the base image.
type Image struct {
	Reference  string `toml:"reference" json:"reference"`
	Repository string `toml:"repository" json:"repository"`
	Tag        string `toml:"tag" json:"tag"`
	Digest     string `toml:"digest" json:"digest"`
	MediaType  string `toml:"media-type" json:"media-type"`
	Family     string `toml:"family,omitempty" json:"family,omitempty"`
	// EnvLayout is how the environment images' layers are made, which
	// their digests (env, env-config) depend on: "" (omitted) is one
	// layer holding the whole venv, as mlenv wrote before layouts;
	// LayoutLayers a layer per locked wheel.
	EnvLayout string     `toml:"env-layout,omitempty" json:"env-layout,omitempty"`
	Platforms []Platform `toml:"platform" json:"platform"`
}

// The environment layouts (Image.EnvLayout).
const (
	// LayoutOneLayer is the venv in one layer on the base image.
	LayoutOneLayer = ""
	// LayoutLayers is the venv's skeleton in a layer of its own, then one
	// layer per locked wheel, the largest lowest (small packages grouped
	// in one layer past the layer budget).
	LayoutLayers = "layers-v1"
)

// Platform pins one platform's manifest of the image.
type Platform struct {
	Platform string `toml:"platform" json:"platform"`
	Digest   string `toml:"digest" json:"digest"`
	Config   string `toml:"config" json:"config"`
	// RequireCUDA is what the NVIDIA container runtime asks of the host
	// for this platform's image (NVIDIA_REQUIRE_CUDA, which differs by
	// platform, or NGC's CUDA_DRIVER_VERSION as driver>=X), and
	// RequireSource where it was read.
	RequireCUDA   string `toml:"require-cuda,omitempty" json:"require-cuda,omitempty"`
	RequireSource string `toml:"require-source,omitempty" json:"require-source,omitempty"`
	// EnvDigest is the environment image's manifest digest (the base image with
	// the locked packages' layer; the base image itself when the lock
	// installs nothing), and EnvConfig its config digest, which is the
	// engine's image ID. Every machine builds exactly these.
	EnvDigest string `toml:"env,omitempty" json:"env,omitempty"`
	EnvConfig string `toml:"env-config,omitempty" json:"env-config,omitempty"`
}

// Versions are what the image contains, each with where it was read.
type Versions struct {
	Framework        string `toml:"framework,omitempty" json:"framework,omitempty"`
	FrameworkVersion string `toml:"framework-version,omitempty" json:"framework-version,omitempty"`
	CUDA             string `toml:"cuda,omitempty" json:"cuda,omitempty"`
	CuDNN            string `toml:"cudnn,omitempty" json:"cudnn,omitempty"`
	Python           string `toml:"python,omitempty" json:"python,omitempty"`
	// PythonExecutable is the image's interpreter the venv links to
	// (/usr/local/bin/python3), read by the probe.
	PythonExecutable string `toml:"python-executable,omitempty" json:"python-executable,omitempty"`
	MinDriver        string `toml:"min-driver,omitempty" json:"min-driver,omitempty"`
	// FrameworkCUDA and FrameworkCuDNN are what the framework itself
	// reports inside the image (torch.version.cuda,
	// torch.backends.cudnn.version()).
	FrameworkCUDA  string `toml:"framework-cuda,omitempty" json:"framework-cuda,omitempty"`
	FrameworkCuDNN string `toml:"framework-cudnn,omitempty" json:"framework-cudnn,omitempty"`
	// CUDAArchs are the GPU architectures the framework has kernels for
	// (torch.cuda.get_arch_list(), or TORCH_CUDA_ARCH_LIST), its source in
	// Sources["cuda-archs"].
	CUDAArchs []string          `toml:"cuda-archs,omitempty" json:"cuda-archs,omitempty"`
	Sources   map[string]string `toml:"sources,omitempty" json:"sources,omitempty"`
}

// Dist is a python distribution already installed in the image.
type Dist struct {
	Name    string `toml:"name" json:"name"`
	Version string `toml:"version" json:"version"`
}

// Package is a pip package the lock installs.
type Package struct {
	Name      string   `toml:"name" json:"name"`
	Version   string   `toml:"version" json:"version"`
	Requested bool     `toml:"requested" json:"requested"`
	Index     string   `toml:"index" json:"index"`
	Hashes    []string `toml:"hashes" json:"hashes"`
	// Platforms lists the platforms this entry is for, when a package
	// resolves differently per platform; empty means every platform.
	Platforms []string `toml:"platforms,omitempty" json:"platforms,omitempty"`
	// Replaces is the version of this package the image already has, when
	// the lock installs another one over it.
	Replaces string `toml:"replaces,omitempty" json:"replaces,omitempty"`
	// URL is the file pip chose, without credentials.
	URL string `toml:"url,omitempty" json:"url,omitempty"`
}

// Run is the [run] table, resolved with defaults.
type Run = schema.Run

// Inputs are the canonical hashes of each section of mlenv.toml the lock
// was made from, so a stale lock can say what changed and keep the rest.
type Inputs struct {
	Image string `toml:"image" json:"image"`
	Pip   string `toml:"pip" json:"pip"`
	Run   string `toml:"run" json:"run"`
	// PipSection and Requirements split Pip into the [pip] table and the
	// requirements file's content, so that a stale lock names the one that
	// changed (empty in locks without [pip], and in older locks).
	PipSection   string `toml:"pip-section,omitempty" json:"pip-section,omitempty"`
	Requirements string `toml:"requirements,omitempty" json:"requirements,omitempty"`
}

// ByDigest is the image as repository@digest: what every consumer pulls.
func (im Image) ByDigest() string { return im.Repository + "@" + im.Digest }

// Platform is the image's entry for platform, if the lock has one.
func (im Image) Platform(platform string) (Platform, bool) {
	for _, p := range im.Platforms {
		if p.Platform == platform {
			return p, true
		}
	}
	return Platform{}, false
}

// PlatformNames lists the locked platforms.
func (im Image) PlatformNames() []string {
	names := make([]string, len(im.Platforms))
	for i, p := range im.Platforms {
		names[i] = p.Platform
	}
	return names
}

var separatorsRe = regexp.MustCompile(`[-_.]+`)

// NormalizeName is PEP 503 name normalization, the form package names
// take in the lock.
func NormalizeName(n string) string {
	return strings.ToLower(separatorsRe.ReplaceAllString(n, "-"))
}
