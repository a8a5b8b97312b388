package export

import (
	"strings"
	"testing"
)

// TestK8sAllGPUsIsAnError: "all" has no count a pod can ask for.
func TestK8sAllGPUsIsAnError(t *testing.T) {
	l := slurmLock("r.example/e")
	l.Run.GPUs = "all"
	if _, err := Render("k8s", l, Options{}); err == nil || !strings.Contains(err.Error(), "set [run] gpus = N") {
		t.Errorf("k8s with gpus all: %v", err)
	}
}
