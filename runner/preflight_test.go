package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// TestPreflight runs the checks against a recorded host: two H100s
// (compute capability 9.0, brand nvidia) on driver 550.54.15 (CUDA 12.4).
func TestPreflight(t *testing.T) {
	h := GPUHost{Root: "testdata/nvidia/h100", SMI: recorded(t, "h100")}
	torch := func(archs ...string) *lock.Lock {
		return &lock.Lock{Versions: lock.Versions{Framework: "pytorch", FrameworkVersion: "2.4.0", CUDA: "12.4", MinDriver: "550.54.15", CUDAArchs: archs},
			Image: lock.Image{Platforms: []lock.Platform{{Platform: "linux/amd64"}}}}
	}
	withRequirement := func(l *lock.Lock, req string) *lock.Lock {
		l.Image.Platforms[0].RequireCUDA, l.Image.Platforms[0].RequireSource = req, "env:NVIDIA_REQUIRE_CUDA"
		return l
	}
	all := schema.GPUs("all")
	tests := []struct {
		name      string
		l         *lock.Lock
		warn, err string
	}{
		{"kernels for sm_90", torch("sm_80", "sm_86", "sm_90"), "", ""},
		{"PTX only", torch("sm_80", "compute_80"), "compiled from its PTX", ""},
		{"no kernel", torch("sm_70", "sm_80", "sm_86"), "", "compute capability 9.0"},
		{"runtime rule met", withRequirement(torch("sm_90"), "cuda>=12.4"), "", ""},
		{"runtime rule, brand range", withRequirement(torch("sm_90"), "cuda>=12.6 brand=nvidia,driver>=550,driver<551"), "", ""},
		{"runtime rule refuses", withRequirement(torch("sm_90"), "cuda>=12.6 brand=tesla,driver>=550,driver<551"), "", "would refuse this image"},
		{"minor-version compatibility", func() *lock.Lock {
			l := torch("sm_90")
			l.Versions.CUDA, l.Versions.MinDriver = "12.6.3", "560.35.05"
			return l
		}(), "minor-version compatibility", ""},
	}
	for _, tc := range tests {
		warnings, err := Preflight(h, tc.l, "linux/amd64", all)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
		if w := strings.Join(warnings, "\n"); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
			t.Errorf("%s: warnings %q, want %q", tc.name, w, tc.warn)
		}
	}
	noSMI := func(...string) ([]byte, error) { return nil, errors.New("nvidia-smi: not found") }
	if w, err := Preflight(GPUHost{Root: t.TempDir(), SMI: noSMI}, torch("sm_50"), "linux/amd64", all); err != nil || w != nil {
		t.Errorf("no driver to read: %v %v", w, err)
	}
	if got := requested([]GPU{{Index: "0", UUID: "GPU-a"}, {Index: "1", UUID: "GPU-b"}}, schema.GPUs("device=GPU-b")); len(got) != 1 || got[0].Index != "1" {
		t.Errorf("requested by UUID: %+v", got)
	}
}
