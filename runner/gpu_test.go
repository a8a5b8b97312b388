package runner_test

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

func TestDeviceRequests(t *testing.T) {
	tests := map[schema.GPUs]struct {
		count int
		ids   string
	}{"all": {-1, ""}, "2": {2, ""}, "device=0,3": {0, "0,3"}}
	for g, want := range tests {
		reqs := runner.DeviceRequests(g, "nvidia", nil)
		if len(reqs) != 1 || reqs[0].Count != want.count || strings.Join(reqs[0].DeviceIDs, ",") != want.ids || reqs[0].Capabilities[0][0] != "gpu" {
			t.Errorf("gpus %s: %+v", g, reqs)
		}
	}
	if reqs := runner.DeviceRequests("none", "nvidia", nil); reqs != nil {
		t.Errorf("gpus none: %+v", reqs)
	}
}

// By CDI, GPUs go by name: all, the ids asked, or the first N the spec
// names.
func TestCDIDeviceRequests(t *testing.T) {
	spec := []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=2", "nvidia.com/gpu=all"}
	for g, want := range map[schema.GPUs]string{
		"all": "nvidia.com/gpu=all", "auto": "nvidia.com/gpu=all", "2": "nvidia.com/gpu=0 nvidia.com/gpu=1",
		"device=1,GPU-abc": "nvidia.com/gpu=1 nvidia.com/gpu=GPU-abc",
	} {
		reqs := runner.DeviceRequests(g, "cdi", spec)
		if len(reqs) != 1 || reqs[0].Driver != "cdi" || strings.Join(reqs[0].DeviceIDs, " ") != want {
			t.Errorf("gpus %s by CDI: %+v, want %s", g, reqs, want)
		}
	}
}
