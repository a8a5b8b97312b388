package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorded answers nvidia-smi from a host's recorded outputs.
func recorded(t *testing.T, host string) func(args ...string) ([]byte, error) {
	return func(args ...string) ([]byte, error) {
		switch {
		case strings.HasPrefix(args[0], "--query-gpu=index"):
			return os.ReadFile(filepath.Join("testdata/nvidia", host, "query-gpu.txt"))
		case args[0] == "-q":
			return os.ReadFile(filepath.Join("testdata/nvidia", host, "query.txt"))
		case strings.HasPrefix(args[0], "--query-gpu=driver_version"):
			return []byte("535.104.05\n"), nil
		}
		return nil, errors.New("nvidia-smi: unknown query")
	}
}

func TestDriverDetectionOrder(t *testing.T) {
	tests := []struct{ root, smi, want string }{
		{"testdata/nvidia/h100", "h100", "550.54.15"},         // /sys/module first (its 550.54.15 over /proc's 550.54.14)
		{"testdata/nvidia/procfs-only", "h100", "535.104.05"}, // then /proc
		{t.TempDir(), "h100", "535.104.05"},                   // then nvidia-smi
		{t.TempDir(), "", ""},                                 // no driver
	}
	for _, tc := range tests {
		h := GPUHost{Root: tc.root, SMI: func(...string) ([]byte, error) { return nil, errors.New("no nvidia-smi") }}
		if tc.smi != "" {
			h.SMI = recorded(t, tc.smi)
		}
		if got := h.Driver(); got != tc.want {
			t.Errorf("driver under %s: %q, want %q", tc.root, got, tc.want)
		}
	}
}

func TestGPUsFromNvidiaSMI(t *testing.T) {
	gpus, err := GPUHost{SMI: recorded(t, "h100")}.GPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(gpus) != 2 || gpus[1].Index != "1" || gpus[1].ComputeCap != "9.0" || gpus[0].Brand != "nvidia" || !strings.HasPrefix(gpus[1].UUID, "GPU-7c1d") {
		t.Errorf("gpus = %+v", gpus)
	}
}
