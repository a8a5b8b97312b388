// Package lock defines mlenv.lock: its types, deterministic encoding,
// strict decoding, atomic writes and the freshness check against an
// mlenv.toml.
package lock

import "github.com/mlenv/mlenv/schema"

// FormatVersion is the lock format this mlenv writes and reads.
const FormatVersion = 1

// FileName is the lock's file name, beside mlenv.toml.
const FileName = "mlenv.lock"

// Lock is the content of mlenv.lock. Its TOML field names are a contract
// that other tools read: add fields freely, rename none.
type Lock struct {
	Version   int       `toml:"version"`
	Generator string    `toml:"generator"`
	InputHash string    `toml:"input-hash"`
	Image     Image     `toml:"image"`
	Versions  Versions  `toml:"versions"`
	Base      []Dist    `toml:"base,omitempty"`
	Packages  []Package `toml:"package,omitempty"`
	Run       Run       `toml:"run"`
	Inputs    Inputs    `toml:"inputs"`
}

// Image pins the base image.
type Image struct {
	Reference  string     `toml:"reference"`
	Repository string     `toml:"repository"`
	Tag        string     `toml:"tag"`
	Digest     string     `toml:"digest"`
	MediaType  string     `toml:"media-type"`
	Family     string     `toml:"family,omitempty"`
	Platforms  []Platform `toml:"platform"`
}

// Platform pins one platform's manifest of the image.
type Platform struct {
	Platform string `toml:"platform"`
	Digest   string `toml:"digest"`
	Config   string `toml:"config"`
}

// Versions are what the image contains, each with where it was read.
type Versions struct {
	Framework        string `toml:"framework,omitempty"`
	FrameworkVersion string `toml:"framework-version,omitempty"`
	CUDA             string `toml:"cuda,omitempty"`
	CuDNN            string `toml:"cudnn,omitempty"`
	Python           string `toml:"python,omitempty"`
	MinDriver        string `toml:"min-driver,omitempty"`
	// FrameworkCUDA and FrameworkCuDNN are what the framework itself
	// reports inside the image (torch.version.cuda,
	// torch.backends.cudnn.version()).
	FrameworkCUDA  string            `toml:"framework-cuda,omitempty"`
	FrameworkCuDNN string            `toml:"framework-cudnn,omitempty"`
	Sources        map[string]string `toml:"sources,omitempty"`
}

// Dist is a python distribution already installed in the image.
type Dist struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
}

// Package is a pip package the lock installs.
type Package struct {
	Name      string   `toml:"name"`
	Version   string   `toml:"version"`
	Requested bool     `toml:"requested"`
	Index     string   `toml:"index"`
	Hashes    []string `toml:"hashes"`
	// Platforms lists the platforms this entry is for, when a package
	// resolves differently per platform; empty means every platform.
	Platforms []string `toml:"platforms,omitempty"`
	// Replaces is the version of this package the image already has, when
	// the lock installs another one over it.
	Replaces string `toml:"replaces,omitempty"`
	// URL is the file pip chose, without credentials.
	URL string `toml:"url,omitempty"`
}

// Run is the [run] table, resolved with defaults.
type Run = schema.Run

// Inputs are the canonical hashes of each section of mlenv.toml the lock
// was made from, so a stale lock can say what changed and keep the rest.
type Inputs struct {
	Image string `toml:"image"`
	Pip   string `toml:"pip"`
	Run   string `toml:"run"`
}
