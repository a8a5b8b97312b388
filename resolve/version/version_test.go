package version_test

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/resolve/version"
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
