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
		reqs := runner.DeviceRequests(g)
		if len(reqs) != 1 || reqs[0].Count != want.count || strings.Join(reqs[0].DeviceIDs, ",") != want.ids || reqs[0].Capabilities[0][0] != "gpu" {
			t.Errorf("gpus %s: %+v", g, reqs)
		}
	}
	if reqs := runner.DeviceRequests("none"); reqs != nil {
		t.Errorf("gpus none: %+v", reqs)
	}
}
