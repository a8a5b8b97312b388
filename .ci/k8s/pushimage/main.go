// Command pushimage pushes a one-file image: a static binary as its
// entrypoint, for the test cluster's pause image.
//
//	pushimage BINARY REFERENCE
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pushimage BINARY REFERENCE")
		os.Exit(2)
	}
	digest, err := push(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushimage:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

func push(binary, reference string) (v1.Hash, error) {
	ref, err := name.ParseReference(reference, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	body, err := os.ReadFile(binary)
	if err != nil {
		return v1.Hash{}, err
	}
	entry := "/" + filepath.Base(binary)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: entry[1:], Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		return v1.Hash{}, err
	}
	if _, err := tw.Write(body); err != nil {
		return v1.Hash{}, err
	}
	if err := tw.Close(); err != nil {
		return v1.Hash{}, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return v1.Hash{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cf.Architecture, cf.OS, cf.Config.Entrypoint = runtime.GOARCH, "linux", []string{entry}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(ref, img); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}
