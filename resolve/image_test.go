package resolve_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/internal/registrytest"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/schema"
)

var (
	familiesOnce sync.Once
	familiesReg  *registrytest.Registry
)

// families returns one registry with every family fixture, shared by the
// tests of this package (pushing them takes a moment).
func families(t *testing.T) *registrytest.Registry {
	familiesOnce.Do(func() {
		familiesReg = registrytest.New(&keepAlive{t})
		familiesReg.PushFamilies(t)
	})
	familiesReg.Requests()
	return familiesReg
}

// keepAlive lets the shared registry outlive the test that started it.
type keepAlive struct{ testing.TB }

func (keepAlive) Cleanup(func()) {}

func newResolver(t *testing.T) *resolve.Resolver {
	t.Helper()
	reg, err := registry.New(registry.Options{Retry: registry.RetryPolicy{Attempts: 3, Base: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return &resolve.Resolver{Registry: reg}
}

func TestImageFamilies(t *testing.T) {
	reg := families(t)
	tests := []struct {
		name    string
		image   schema.Image
		tag     string
		want    map[string]string // versions field → value
		sources map[string]string
	}{
		{"pytorch runtime, newest 2.1 on CUDA 12", schema.Image{Family: "pytorch", Version: "~2.1", CUDA: ">=12.1", Variant: "runtime", Platforms: []string{"linux/amd64", "linux/arm64"}},
			"2.1.2-cuda12.1-cudnn8-runtime", map[string]string{"framework": "2.1.2", "cuda": "12.1", "cudnn": "8", "min-driver": "530.30.02"},
			map[string]string{"framework-version": "env:PYTORCH_VERSION", "cuda": "tag", "cudnn": "tag"}},
		{"pytorch newest CUDA wins over variant", schema.Image{Family: "pytorch", Version: "~2.1"},
			"2.1.2-cuda12.1-cudnn8-runtime", map[string]string{"framework": "2.1.2", "cuda": "12.1"}, nil},
		{"pytorch devel reads config", schema.Image{Family: "pytorch", Version: "~2.1", Variant: "devel"},
			"2.1.2-cuda12.1-cudnn8-devel", map[string]string{"framework": "2.1.2", "cuda": "12.1.1", "cudnn": "8.9.0.131", "min-driver": "530.30.02"},
			map[string]string{"cuda": "env:CUDA_VERSION", "cudnn": "env:NV_CUDNN_VERSION"}},
		{"pytorch lowest", schema.Image{Family: "pytorch", Version: "~2.1", CUDA: "*", Resolution: "lowest"},
			"2.1.0-cuda11.8-cudnn8-runtime", map[string]string{"framework": "2.1.0", "cuda": "11.8", "min-driver": "520.61.05"}, nil},
		{"pytorch cpu", schema.Image{Family: "pytorch", CUDA: "none"},
			"2.1.2-runtime", map[string]string{"framework": "2.1.2", "cuda": ""}, nil},
		{"pytorch cudnn 9 four-part", schema.Image{Family: "pytorch", Version: "<2.5", CuDNN: "9.1"},
			"2.4.0-cuda12.4-cudnn9-devel", map[string]string{"cudnn": "9.1.0.70-1", "cuda": "12.4.1", "min-driver": "550.54.15"}, nil},
		{"pytorch 1.5 era", schema.Image{Family: "pytorch", Version: "~1.5"},
			"1.5-cuda10.1-cudnn7-runtime", map[string]string{"framework": "1.5", "cuda": "10.1.243"}, nil},
		{"pytorch 0.4.1 era", schema.Image{Family: "pytorch", Version: "0.4.1"},
			"0.4.1-cuda9-cudnn7-runtime", map[string]string{"framework": "0.4.1", "cuda": "9"}, nil},
		{"pytorch 0.4 era", schema.Image{Family: "pytorch", Version: "<0.4.1"},
			"0.4_cuda9_cudnn7", map[string]string{"framework": "0.4", "cudnn": "7"}, nil},
		{"tensorflow py3 era prefers -py3", schema.Image{Family: "tensorflow", Version: "~2.1.0", Variant: "gpu"},
			"2.1.0-gpu-py3", map[string]string{"framework": "2.1.0", "cuda": "10.1.243", "cudnn": "7.6", "python": "3.6.9"},
			map[string]string{"cudnn": "table", "cuda": "env:CUDA_VERSION"}},
		{"tensorflow gpu jupyter", schema.Image{Family: "tensorflow", Version: "~2.15", Variant: "gpu-jupyter"},
			"2.15.0-gpu-jupyter", map[string]string{"cuda": "12.2.0", "cudnn": "8.9"}, nil},
		{"tensorflow cuda constraint", schema.Image{Family: "tensorflow", CUDA: "~11.8"},
			"2.14.0-gpu", map[string]string{"framework": "2.14.0", "cuda": "11.8.0"}, nil},
		{"tensorflow cpu", schema.Image{Family: "tensorflow", Version: "2.15", Variant: "cpu"},
			"2.15.0", map[string]string{"cuda": ""}, nil},
		{"cuda unversioned cudnn era", schema.Image{Family: "cuda", Version: ">=12.4", CuDNN: "9", Variant: "runtime", OS: "ubuntu"},
			"13.0.1-cudnn-runtime-ubuntu24.04", map[string]string{"framework": "13.0.1", "cudnn": "9.13.0.50-1", "min-driver": "580.82.07"}, nil},
		{"cuda label cudnn", schema.Image{Family: "cuda", Version: "~12.6", CuDNN: "9"},
			"12.6.3-cudnn-runtime-ubuntu24.04", map[string]string{"cudnn": "9.5.1.17-1"}, map[string]string{"cudnn": "label:com.nvidia.cudnn.version"}},
		{"cuda cudnnN era", schema.Image{Family: "cuda", Version: "~12.3"},
			"12.3.2-cudnn9-devel-ubuntu22.04", map[string]string{"cudnn": "9.0.0.312"}, nil},
		{"cuda without cudnn, newest os", schema.Image{Family: "cuda", Version: "~12.6", CuDNN: "none"},
			"12.6.3-runtime-ubuntu24.04", map[string]string{"cudnn": ""}, nil},
		{"cuda os choice", schema.Image{Family: "cuda", Version: "~12.6", OS: "ubi"},
			"12.6.3-runtime-ubi9", nil, nil},
		{"cuda os version", schema.Image{Family: "cuda", Version: "~12.6", CuDNN: "none", OSVersion: "22.04"},
			"12.6.3-runtime-ubuntu22.04", nil, nil},
		{"cuda legacy two-part", schema.Image{Family: "cuda", Version: "~10.2"},
			"10.2-cudnn8-devel-ubuntu18.04", map[string]string{"cuda": "10.2.89", "cudnn": "8.2.4.15", "min-driver": "440.33"},
			map[string]string{"cudnn": "env:CUDNN_VERSION"}},
		{"ngc local version compares as release", schema.Image{Family: "ngc-pytorch", Version: "~2.1"},
			"23.10-py3", map[string]string{"framework": "2.1.0a0+32f93b1", "cuda": "12.2.2.009", "cudnn": "8.9.5.29", "min-driver": "535.104.05"},
			map[string]string{"framework-version": "env:PYTORCH_VERSION"}},
		{"ngc newest release with constraint", schema.Image{Family: "ngc-pytorch", Version: "~2.3", CuDNN: ">=9.1"},
			"24.04-py3", map[string]string{"framework": "2.3.0a0+6ddf5cf85e", "cuda": "12.4.1.003"}, nil},
		{"ngc igpu", schema.Image{Family: "ngc-pytorch", Variant: "igpu"},
			"24.05-py3-igpu", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := tc.image
			im.Registry = reg.Host
			if len(im.Platforms) == 0 {
				im.Platforms = []string{"linux/amd64"}
			}
			pin, err := newResolver(t).Image(context.Background(), im, nil)
			if err != nil {
				t.Fatal(err)
			}
			if pin.Image.Tag != tc.tag {
				t.Fatalf("tag = %s, want %s", pin.Image.Tag, tc.tag)
			}
			got := map[string]string{"framework": pin.Versions.FrameworkVersion, "cuda": pin.Versions.CUDA,
				"cudnn": pin.Versions.CuDNN, "python": pin.Versions.Python, "min-driver": pin.Versions.MinDriver}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for k, want := range tc.sources {
				if pin.Versions.Sources[k] != want {
					t.Errorf("source of %s = %q, want %q", k, pin.Versions.Sources[k], want)
				}
			}
			if len(pin.Image.Platforms) != len(im.Platforms) {
				t.Errorf("platforms = %v, want %v", pin.Image.Platforms, im.Platforms)
			}
		})
	}
}

func TestImageErrors(t *testing.T) {
	reg := families(t)
	tests := []struct {
		name  string
		image schema.Image
		want  []string
		check func(error) bool
	}{
		{"no tag satisfies, nearest shown", schema.Image{Family: "pytorch", Version: "~2.1", CUDA: ">=13"},
			[]string{"no tag of", "nearest", "2.1.2-cuda12.1-cudnn8-runtime: cuda 12.1 does not satisfy >=13", "loosen"}, nil},
		{"platform missing", schema.Image{Family: "pytorch", Version: "~2.1", Variant: "devel", Platforms: []string{"linux/arm64"}},
			[]string{"has no linux/arm64 image", "it has: linux/amd64"}, isPlatformError},
		{"repository not found", schema.Image{Family: "ngc-tensorflow"},
			[]string{"not found", "docker login"}, kindIs(registry.KindNotFound)},
		{"ref fails constraint", schema.Image{Ref: reg.Host + "/nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", CUDA: ">=12.4"},
			[]string{"does not satisfy [image]", "cuda 12.1.1 does not satisfy >=12.4"}, nil},
		{"ref tag missing", schema.Image{Ref: reg.Host + "/nvidia/cuda:99.0-nope"},
			[]string{"not found"}, kindIs(registry.KindNotFound)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := tc.image
			if im.Ref == "" {
				im.Registry = reg.Host
			}
			if len(im.Platforms) == 0 {
				im.Platforms = []string{"linux/amd64"}
			}
			_, err := newResolver(t).Image(context.Background(), im, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.check != nil && !tc.check(err) {
				t.Errorf("error %v (%T) is not of the expected kind", err, err)
			}
		})
	}
}

func kindIs(k registry.ErrorKind) func(error) bool {
	return func(err error) bool {
		var re *registry.Error
		return errors.As(err, &re) && re.Kind == k
	}
}

func TestImageRef(t *testing.T) {
	reg := families(t)
	ref := reg.Host + "/pytorch/pytorch:2.1.2-cuda12.1-cudnn8-runtime"
	im := schema.Image{Ref: ref, Platforms: []string{"linux/arm64", "linux/amd64"}}
	pin, err := newResolver(t).Image(context.Background(), im, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pin.Image.Family != "pytorch" || pin.Versions.CUDA != "12.1" || pin.Versions.FrameworkVersion != "2.1.2" {
		t.Errorf("ref pin = %+v %+v: family and versions should come from the tag and config", pin.Image, pin.Versions)
	}
	if pin.Image.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("media type = %s", pin.Image.MediaType)
	}
	if pin.Image.Platforms[0].Platform != "linux/amd64" || pin.Image.Platforms[1].Platform != "linux/arm64" {
		t.Errorf("platforms not sorted: %+v", pin.Image.Platforms)
	}
	// The same image by digest pins the same digests and no tag.
	byDigest := schema.Image{Ref: reg.Host + "/pytorch/pytorch@" + pin.Image.Digest, Platforms: im.Platforms}
	pin2, err := newResolver(t).Image(context.Background(), byDigest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pin2.Image.Digest != pin.Image.Digest || pin2.Image.Tag != "" || pin2.Image.Platforms[1] != pin.Image.Platforms[1] {
		t.Errorf("by digest: %+v, by tag: %+v", pin2.Image, pin.Image)
	}
}

func isPlatformError(err error) bool {
	var pe *resolve.PlatformError
	return errors.As(err, &pe)
}

// TestWhatTheRuntimeRequires: each platform's NVIDIA_REQUIRE_CUDA is
// recorded with its source (amd64 lists brand ranges, arm64 does not), and
// TORCH_CUDA_ARCH_LIST gives cuda-archs where no torch is asked.
func TestWhatTheRuntimeRequires(t *testing.T) {
	reg := families(t)
	amd64 := "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536"
	reg.PushImages("mlenv-test/cuda-like", "12.4.1-runtime-ubuntu22.04",
		registrytest.Image{Platform: "linux/amd64", Env: []string{"CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=" + amd64}},
		registrytest.Image{Platform: "linux/arm64", Env: []string{"CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4", "TORCH_CUDA_ARCH_LIST=8.0 9.0+PTX"}})
	im := schema.Image{Ref: reg.Host + "/mlenv-test/cuda-like:12.4.1-runtime-ubuntu22.04", Platforms: []string{"linux/amd64", "linux/arm64"}}
	pin, err := newResolver(t).Image(context.Background(), im, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := pin.Image.Platforms
	if pl[0].RequireCUDA != amd64 || pl[0].RequireSource != "env:NVIDIA_REQUIRE_CUDA" || pl[1].RequireCUDA != "cuda>=12.4" {
		t.Errorf("platforms: %+v", pl)
	}
	// versions come from the first platform's config: no arch list there
	if len(pin.Versions.CUDAArchs) != 0 {
		t.Errorf("cuda-archs from the amd64 config: %v", pin.Versions.CUDAArchs)
	}
	reg.PushImages("mlenv-test/ngc-like", "24.09-py3", registrytest.Image{Platform: "linux/amd64",
		Env: []string{"PYTORCH_VERSION=2.5.0a0+b465a5843b", "CUDA_VERSION=12.6.1.006", "CUDA_DRIVER_VERSION=560.35.03", "TORCH_CUDA_ARCH_LIST=8.0 8.6 9.0+PTX"}})
	ngc, err := newResolver(t).Image(context.Background(), schema.Image{Ref: reg.Host + "/mlenv-test/ngc-like:24.09-py3", Platforms: []string{"linux/amd64"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ngc.Versions.CUDAArchs, " "); got != "sm_80 sm_86 sm_90 compute_90" || ngc.Versions.Sources["cuda-archs"] != "env:TORCH_CUDA_ARCH_LIST" ||
		ngc.Image.Platforms[0].RequireCUDA != "driver>=560.35.03" || ngc.Image.Platforms[0].RequireSource != "env:CUDA_DRIVER_VERSION" {
		t.Errorf("NGC: archs %q from %q, requires %+v", got, ngc.Versions.Sources["cuda-archs"], ngc.Image.Platforms[0])
	}
}
