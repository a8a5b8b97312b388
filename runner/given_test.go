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
		{map[string]string{"SLURM_JOB_ID": "7", "SLURM_STEP_GPUS": "2,3", "SLURM_JOB_GPUS": "0,1,2,3", "CUDA_VISIBLE_DEVICES": "0,1"}, "all", "device=2,3", "SLURM_STEP_GPUS"},
		{map[string]string{"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "1", "CUDA_VISIBLE_DEVICES": "0"}, "auto", "device=1", "SLURM_JOB_GPUS"},
		// a Slurm job given no GPUs takes none, whatever CUDA_VISIBLE_DEVICES says
		{map[string]string{"SLURM_JOB_ID": "7"}, "all", "none", "SLURM_JOB_ID"},
		{map[string]string{"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0"}, "auto", "none", "SLURM_JOB_ID"},
		{map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-5a3e8f0c, GPU-7c1d2e3f"}, "all", "device=GPU-5a3e8f0c,GPU-7c1d2e3f", "CUDA_VISIBLE_DEVICES"},
		{map[string]string{"NVIDIA_VISIBLE_DEVICES": "all"}, "all", "all", ""},
		{map[string]string{"CUDA_VISIBLE_DEVICES": ""}, "all", "none", "CUDA_VISIBLE_DEVICES"},
		// a count picks the first N of the GPUs given
		{map[string]string{"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "1,3"}, "2", "device=1,3", "SLURM_JOB_GPUS"},
		{map[string]string{"CUDA_VISIBLE_DEVICES": "4,5,6"}, "1", "device=4", "CUDA_VISIBLE_DEVICES"},
		{map[string]string{}, "2", "2", ""},
		{map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, "device=3", "device=3", "CUDA_VISIBLE_DEVICES"}, // explicit ids are the user's word
	}
	for _, tc := range tests {
		g := GivenGPUs(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		got, err := g.Narrow(tc.gpus)
		if err != nil || string(got) != tc.want || g.Source != tc.from {
			t.Errorf("env %v, gpus %s: %s from %q (%v), want %s from %q", tc.env, tc.gpus, got, g.Source, err, tc.want, tc.from)
		}
	}
	g := Given{IDs: []string{"2", "3"}, Source: "SLURM_STEP_GPUS"}
	narrowed, _ := g.Narrow("all")
	if why := g.Why(narrowed); !strings.Contains(why, "GPUs 2,3") || !strings.Contains(why, "SLURM_STEP_GPUS") {
		t.Errorf("why: %q", why)
	}
	if why := (Given{}).Why("all"); !strings.Contains(why, "nothing restricts") {
		t.Errorf("why, unrestricted: %q", why)
	}
	if why := (Given{Source: "SLURM_JOB_ID"}).Why("none"); !strings.Contains(why, "given none") || !strings.Contains(why, "--gpus=N") {
		t.Errorf("why, a job given none: %q", why)
	}
}

// More GPUs than were given is an error naming both.
func TestGivenTooFew(t *testing.T) {
	g := Given{IDs: []string{"1", "3"}, Source: "SLURM_JOB_GPUS"}
	_, err := g.Narrow("4")
	if err == nil || !strings.Contains(err.Error(), "gpus = 4") || !strings.Contains(err.Error(), "given 2 GPUs (SLURM_JOB_GPUS=1,3)") {
		t.Errorf("4 of 2: %v", err)
	}
}
