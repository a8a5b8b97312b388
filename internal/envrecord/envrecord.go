// Package envrecord remembers, for each user on this machine, the
// environment digests mlenv computed itself and the inputs it computed
// them from (the base image and the locked files). A lock's env and
// env-config are digests anyone can write; mlenv trusts them only where a
// record says it computed the same from the same inputs, and otherwise
// computes them before it runs, pulls or names an image by them.
package envrecord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Digests are an environment's manifest and config digests (the lock's
// env and env-config).
type Digests struct {
	Env    string `json:"env"`
	Config string `json:"env-config"`
}

// Locked are the digests l records for platform.
func Locked(l *lock.Lock, platform string) Digests {
	pl, _ := l.Image.Platform(platform)
	return Digests{Env: pl.EnvDigest, Config: pl.EnvConfig}
}

// Inputs digests everything an environment's digests are computed from:
// the base image (repository, index, platform manifest and config), the
// interpreter and the platform's locked files.
func Inputs(l *lock.Lock, platform string) string {
	pl, _ := l.Image.Platform(platform)
	if l.Image.EnvLayout != lock.LayoutOneLayer { // the layout shapes the digests; older records have none
		return schema.DigestJSON(struct{ Format, Layout, Repo, Index, Platform, Digest, Config, Python, Exe, Packages, Build any }{
			"mlenv-env-record v1", l.Image.EnvLayout, l.Image.Repository, l.Image.Digest, platform, pl.Digest, pl.Config,
			l.Versions.Python, l.Versions.PythonExecutable, l.PackagesFor(platform), l.Build})
	}
	if len(l.Build) > 0 { // what builds the files that are not wheels shapes them too
		return schema.DigestJSON(struct{ Format, Repo, Index, Platform, Digest, Config, Python, Exe, Packages, Build any }{
			"mlenv-env-record v1", l.Image.Repository, l.Image.Digest, platform, pl.Digest, pl.Config,
			l.Versions.Python, l.Versions.PythonExecutable, l.PackagesFor(platform), l.Build})
	}
	return schema.DigestJSON(struct{ Format, Repo, Index, Platform, Digest, Config, Python, Exe, Packages any }{
		"mlenv-env-record v1", l.Image.Repository, l.Image.Digest, platform, pl.Digest, pl.Config,
		l.Versions.Python, l.Versions.PythonExecutable, l.PackagesFor(platform)})
}

// Store is a directory of records.
type Store struct{ Dir string }

// Default is the user's store, in mlenv's cache.
func Default() (Store, error) {
	dir, err := userdir.Cache("envs")
	return Store{Dir: dir}, err
}

func (s Store) path(inputs string) string {
	return filepath.Join(s.Dir, strings.TrimPrefix(inputs, "sha256:")+".json")
}

// record is what a record file holds: the digests, and the manifest and
// config they are digests of (a project image is computed from them
// offline).
type record struct {
	Digests
	Manifest   []byte `json:"manifest,omitempty"`
	ConfigFile []byte `json:"config-file,omitempty"`
}

func (s Store) read(inputs string) (record, bool) {
	b, err := os.ReadFile(s.path(inputs))
	var r record
	if err != nil || len(b) > maxRecord || json.Unmarshal(b, &r) != nil || r.Env == "" || r.Config == "" {
		return record{}, false
	}
	return r, true
}

// maxRecord bounds a record file (a manifest and a config: kilobytes).
const maxRecord = 4 << 20

// Recall is the record for inputs, if there is one.
func (s Store) Recall(inputs string) (Digests, bool) {
	r, ok := s.read(inputs)
	return r.Digests, ok
}

// Image is the environment image recorded for inputs, made of its
// manifest and config alone (its layers can be described, not read):
// enough to compute what is built on top of it, offline.
func (s Store) Image(inputs string) (v1.Image, bool) {
	r, ok := s.read(inputs)
	if !ok || len(r.Manifest) == 0 || len(r.ConfigFile) == 0 {
		return nil, false
	}
	img, err := partial.CompressedToImage(described{r.Manifest, r.ConfigFile})
	if err != nil {
		return nil, false
	}
	if d, err := img.Digest(); err != nil || d.String() != r.Env {
		return nil, false
	}
	return img, true
}

// Remember records that mlenv computed img from inputs.
func (s Store) Remember(inputs string, img v1.Image) error {
	var r record
	d, err := img.Digest()
	if err != nil {
		return err
	}
	c, err := img.ConfigName()
	if err != nil {
		return err
	}
	r.Digests = Digests{Env: d.String(), Config: c.String()}
	if r.Manifest, err = img.RawManifest(); err != nil {
		return err
	}
	if r.ConfigFile, err = img.RawConfigFile(); err != nil {
		return err
	}
	if _, err := userdir.Private(s.Dir); err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	return lock.WriteAtomic(s.path(inputs), b)
}

// described is an image known by its manifest and config: its layers have
// descriptors and no content.
type described struct{ manifest, config []byte }

func (d described) RawManifest() ([]byte, error)   { return d.manifest, nil }
func (d described) RawConfigFile() ([]byte, error) { return d.config, nil }
func (d described) MediaType() (types.MediaType, error) {
	m, err := v1.ParseManifest(bytes.NewReader(d.manifest))
	if err != nil {
		return "", err
	}
	return m.MediaType, nil
}
func (d described) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytes.NewReader(d.manifest))
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return descriptorLayer{l}, nil
		}
	}
	return nil, fmt.Errorf("no layer %s", h)
}

type descriptorLayer struct{ d v1.Descriptor }

func (l descriptorLayer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l descriptorLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l descriptorLayer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }
func (l descriptorLayer) Compressed() (io.ReadCloser, error) {
	return nil, fmt.Errorf("layer %s: only its descriptor is recorded", l.d.Digest)
}

// MismatchError is a lock whose environment digests are not the ones
// mlenv computes from its base image and locked files.
type MismatchError struct {
	Platform string
	Locked   Digests
	Computed Digests
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("mlenv.lock's %s environment is %s (env-config %s), but its base image and locked packages make %s (env-config %s): the lock's env digests were edited, or come from another lock; mlenv does not run, pull or name an image by them; restore mlenv.lock from version control, or run `mlenv lock --upgrade`",
		e.Platform, e.Locked.Env, e.Locked.Config, e.Computed.Env, e.Computed.Config)
}

// Check compares the lock's digests for platform with the record: true
// when a record matches, a *MismatchError when it differs, and false with
// no error where there is no record (the caller computes them).
func (s Store) Check(l *lock.Lock, platform string) (bool, error) {
	got, ok := s.Recall(Inputs(l, platform))
	if !ok {
		return false, nil
	}
	if want := Locked(l, platform); got != want {
		return false, &MismatchError{Platform: platform, Locked: want, Computed: got}
	}
	return true, nil
}
