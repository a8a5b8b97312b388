package runner

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

func TestGivenGPUs(t *testing.T) {
	tests := []struct {
		env        map[string]string
		gpus       schema.GPUs
		want, from string
	}{
		{map[string]string{}, "all", "all", ""},
		{map[string]string{"SLURM_STEP_GPUS": "2,3", "SLURM_JOB_GPUS": "0,1,2,3", "CUDA_VISIBLE_DEVICES": "0,1"}, "all", "device=2,3", "SLURM_STEP_GPUS"},
		{map[string]string{"SLURM_JOB_GPUS": "1", "CUDA_VISIBLE_DEVICES": "0"}, "auto", "device=1", "SLURM_JOB_GPUS"},
		{map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-5a3e8f0c, GPU-7c1d2e3f"}, "all", "device=GPU-5a3e8f0c,GPU-7c1d2e3f", "CUDA_VISIBLE_DEVICES"},
		{map[string]string{"NVIDIA_VISIBLE_DEVICES": "all"}, "all", "all", ""},
		{map[string]string{"CUDA_VISIBLE_DEVICES": ""}, "all", "none", "CUDA_VISIBLE_DEVICES"},
		{map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, "2", "2", "CUDA_VISIBLE_DEVICES"},               // an explicit count is the user's word
		{map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, "device=3", "device=3", "CUDA_VISIBLE_DEVICES"}, // so are explicit ids
	}
	for _, tc := range tests {
		g := GivenGPUs(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if got := g.Narrow(tc.gpus); string(got) != tc.want || g.Source != tc.from {
			t.Errorf("env %v, gpus %s: %s from %q, want %s from %q", tc.env, tc.gpus, got, g.Source, tc.want, tc.from)
		}
	}
	g := Given{IDs: []string{"2", "3"}, Source: "SLURM_STEP_GPUS"}
	if why := g.Why(g.Narrow("all")); !strings.Contains(why, "GPUs 2,3") || !strings.Contains(why, "SLURM_STEP_GPUS") {
		t.Errorf("why: %q", why)
	}
	if why := (Given{}).Why("all"); !strings.Contains(why, "nothing restricts") {
		t.Errorf("why, unrestricted: %q", why)
	}
}
