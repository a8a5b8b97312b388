// Package schema defines mlenv.toml: its types, strict decoding with
// positioned errors, validation, defaults and the canonical input hash that
// a lock records.
package schema

import "github.com/mlenv/mlenv/internal/redact"

// Spec is a decoded, validated and defaulted mlenv.toml.
type Spec struct {
	Project Project `toml:"project" json:"project"`
	Image   Image   `toml:"image" json:"image"`
	Pip     Pip     `toml:"pip" json:"pip"`
	Run     Run     `toml:"run" json:"run"`

	// Path is the file the spec was read from; Dir is its directory, the
	// project directory that relative paths resolve against.
	Path string `toml:"-" json:"-"`
	Dir  string `toml:"-" json:"-"`

	src []byte
}

// Project describes the project itself.
type Project struct {
	Name string `toml:"name" json:"name,omitempty" example:"resnet-paper"`
	// AllowOutsidePaths lets the requirements file and [run] mounts lie
	// outside the project directory (through .. or a symlink).
	AllowOutsidePaths bool `toml:"allow-outside-paths" json:"allow-outside-paths,omitempty"`
}

// Image says which image the environment is built on: either a family with
// version constraints or an explicit reference.
type Image struct {
	Family     string   `toml:"family" json:"family,omitempty" example:"pytorch"`
	Version    string   `toml:"version" json:"version,omitempty" example:"~2.1"`
	CUDA       string   `toml:"cuda" json:"cuda,omitempty" example:">=12.1"`
	CuDNN      string   `toml:"cudnn" json:"cudnn,omitempty" example:"8"`
	Variant    string   `toml:"variant" json:"variant,omitempty" example:"runtime"`
	OS         string   `toml:"os" json:"os,omitempty" example:"ubuntu"`
	OSVersion  string   `toml:"os-version" json:"os-version,omitempty" example:"22.04"`
	Ref        string   `toml:"ref" json:"ref,omitempty" example:"pytorch/pytorch:2.1.2-cuda12.1-cudnn8-runtime"`
	Registry   string   `toml:"registry" json:"registry,omitempty" example:"registry.example.com:5000"`
	Platforms  []string `toml:"platforms" json:"platforms" example:"linux/amd64"`
	Resolution string   `toml:"resolution" json:"resolution" example:"highest"`
}

// Pip lists the python packages installed on top of the image.
type Pip struct {
	Packages       []string `toml:"packages" json:"packages,omitempty" example:"numpy>=1.26"`
	Requirements   string   `toml:"requirements" json:"requirements,omitempty" example:"requirements.txt"`
	IndexURL       string   `toml:"index-url" json:"index-url,omitempty" example:"https://pypi.org/simple"`
	ExtraIndexURLs []string `toml:"extra-index-urls" json:"extra-index-urls,omitempty" example:"https://download.pytorch.org/whl/cu121"`
}

// Run holds the settings a container is started with.
type Run struct {
	GPUs    GPUs     `toml:"gpus,omitempty" json:"gpus"`
	Workdir string   `toml:"workdir,omitempty" json:"workdir" example:"/src"`
	IPC     string   `toml:"ipc,omitempty" json:"ipc,omitempty" example:"host"`
	ShmSize string   `toml:"shm-size,omitempty" json:"shm-size,omitempty" example:"8g"`
	Network string   `toml:"network,omitempty" json:"network" example:"bridge"`
	Mounts  []string `toml:"mounts,omitempty" json:"mounts,omitempty" example:"./data:/data:ro"`
	// Ports are published as docker run -p publishes them, on 127.0.0.1
	// where a port names no address.
	Ports    []string `toml:"ports,omitempty" json:"ports,omitempty" example:"8888:8888"`
	Env      Env      `toml:"env,omitempty" json:"env,omitempty"`
	Command  []string `toml:"command,omitempty" json:"command,omitempty" example:"python"`
	PipCache string   `toml:"pip-cache,omitempty" json:"pip-cache" example:"mlenv-pip-cache"`
	User     string   `toml:"user,omitempty" json:"user,omitempty" example:"host"`
	// EnvCache is a repository the environment images are pushed to
	// (`mlenv push`); a run on a machine without the environment pulls it
	// from there by its locked digest instead of building it.
	EnvCache string `toml:"env-cache,omitempty" json:"env-cache,omitempty" example:"registry.example.com/team/envs"`
}

// Defaults applied where mlenv.toml is silent.
const (
	DefaultPlatform   = "linux/amd64"
	DefaultResolution = "highest"
	DefaultWorkdir    = "/src"
	DefaultNetwork    = "bridge"
	DefaultPipCache   = "mlenv-pip-cache"
	DefaultGPUs       = "auto"
)

// DefaultIndex is pip's default index, recorded where mlenv.toml names none.
const DefaultIndex = "https://pypi.org/simple"

// Indexes are the indexes [pip] names as written (user information and
// ${VAR}s included): index-url, or pip's default, then extra-index-urls.
func (p Pip) Indexes() []string {
	primary := p.IndexURL
	if primary == "" {
		primary = DefaultIndex
	}
	return append([]string{primary}, p.ExtraIndexURLs...)
}

// PublicIndexes are Indexes without user information: what may be shown,
// passed on a command line or recorded.
func (p Pip) PublicIndexes() []string {
	out := p.Indexes()
	for i, u := range out {
		out[i] = redact.URL(u)
	}
	return out
}

// HasPip reports whether the spec asks for any pip package.
func (s *Spec) HasPip() bool {
	return len(s.Pip.Packages) > 0 || s.Pip.Requirements != ""
}
