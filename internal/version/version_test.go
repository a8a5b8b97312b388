package version_test

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/version"
)

func TestCheckDriver(t *testing.T) {
	tests := []struct {
		host, cuda, min string
		ok, warn        bool
	}{
		{"535.104.05", "12.2.2", "535.104.05", true, false}, // exactly the minimum
		{"550.54.15", "12.1", "530.30.02", true, false},     // newer
		{"530.30.02", "12.4.1", "550.54.15", true, true},    // 12.x on >= 525: minor-version compatibility
		{"525.60.13", "12.8", "570.26", true, true},         // the 12.x floor itself
		{"520.61.05", "12.1", "530.30.02", false, false},    // below the 12.x floor
		{"470.82.01", "11.8", "520.61.05", true, true},      // 11.x on >= 450.80.02
		{"450.51.06", "11.8", "520.61.05", false, false},    // below 450.80.02
		{"575.57.08", "13.0.1", "580.82.07", false, false},  // 13.x needs >= 580
		{"580.65.06", "13.0.1", "580.82.07", true, true},
		{"", "12.1", "530.30.02", true, false}, // no driver to read: nothing to say
	}
	for _, tc := range tests {
		warning, err := version.CheckDriver(tc.host, tc.cuda, tc.min)
		if (err == nil) != tc.ok || (warning != "") != tc.warn {
			t.Errorf("driver %s, CUDA %s (min %s): warning %q, err %v; want ok=%v warn=%v", tc.host, tc.cuda, tc.min, warning, err, tc.ok, tc.warn)
		}
		if err != nil && !strings.Contains(err.Error(), tc.min) {
			t.Errorf("error %q does not name the driver needed", err)
		}
	}
}

func TestRequirementAsTheRuntimeReadsIt(t *testing.T) {
	amd64 := "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536 brand=geforce,driver>=535,driver<536"
	arm64 := "cuda>=12.4"
	tests := []struct {
		req  string
		host version.Host
		ok   bool
	}{
		{amd64, version.Host{Driver: "550.54.15", DriverCUDA: "12.4", Brand: "geforce"}, true},  // new enough
		{amd64, version.Host{Driver: "535.104.05", DriverCUDA: "12.2", Brand: "tesla"}, true},   // forward compatibility on a data-center GPU
		{amd64, version.Host{Driver: "535.104.05", DriverCUDA: "12.2", Brand: "geforce"}, true}, // listed for geforce too
		{amd64, version.Host{Driver: "530.30.02", DriverCUDA: "12.1", Brand: "tesla"}, false},   // no range holds
		{arm64, version.Host{Driver: "535.104.05", DriverCUDA: "12.2", Brand: "tesla"}, false},  // arm64 lists no brand ranges
		{"", version.Host{}, true},
	}
	for _, tc := range tests {
		r, err := version.ParseRequirement(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Satisfied(tc.host); got != tc.ok {
			t.Errorf("%q on %+v: %v, want %v", tc.req, tc.host, got, tc.ok)
		}
	}
	if _, err := version.ParseRequirement("cuda>=12.4 brand"); err == nil {
		t.Error("a condition without an operator parsed")
	}
	for driver, want := range map[string]string{"535.104.05": "12.2", "550.54.15": "12.4", "530.30.02": "12.1", "410.48": "10.0", "390.1": ""} {
		if got := version.DriverCUDA(driver); got != want {
			t.Errorf("DriverCUDA(%s) = %q, want %q", driver, got, want)
		}
	}
}

func TestRunsOn(t *testing.T) {
	archs := []string{"sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"}
	withPTX := append(archs, "compute_90")
	tests := []struct {
		archs   []string
		cc      string
		ok, jit bool
	}{
		{archs, "8.6", true, false},
		{archs, "8.9", true, false},   // sm_86 cubin runs on 8.9 (same major, newer minor)
		{archs, "12.0", false, false}, // sm_120: no kernel, no PTX
		{withPTX, "12.0", true, true}, // JIT from compute_90
		{[]string{"sm_90a"}, "9.0", true, false},
		{[]string{"sm_90a"}, "9.1", false, false}, // an "a" cubin runs on its own cc only
		{[]string{"sm_80"}, "7.5", false, false},
	}
	for _, tc := range tests {
		if ok, jit := version.RunsOn(tc.archs, tc.cc); ok != tc.ok || jit != tc.jit {
			t.Errorf("%v on %s: ok %v jit %v, want %v %v", tc.archs, tc.cc, ok, jit, tc.ok, tc.jit)
		}
	}
	if got := version.ArchsFromList("5.2 8.0;9.0+PTX"); strings.Join(got, ",") != "sm_52,sm_80,sm_90,compute_90" {
		t.Errorf("ArchsFromList = %v", got)
	}
}

func TestCuDNN(t *testing.T) {
	for n, want := range map[int]string{90100: "9.1.0", 8902: "8.9.2", 8700: "8.7.0", 90300: "9.3.0"} {
		if got := version.CuDNN(n); got != want {
			t.Errorf("CuDNN(%d) = %q, want %q", n, got, want)
		}
	}
}
