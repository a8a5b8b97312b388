package version

import (
	"fmt"
	"strings"
)

// minDriver is NVIDIA's minimum Linux driver per CUDA toolkit release
// (CUDA release notes, table 3), keyed by major.minor.patch, or by
// major.minor where every patch release shares one minimum.
var minDriver = map[string]string{
	"13.1": "590.44.01", "13.0.2": "580.95.05", "13.0.1": "580.82.07", "13.0.0": "580.65.06",
	"12.9.1": "575.57.08", "12.9.0": "575.51.03", "12.8.1": "570.124.06", "12.8.0": "570.26",
	"12.6.3": "560.35.05", "12.6.2": "560.35.03", "12.6.1": "560.35.03", "12.6.0": "560.28.03",
	"12.5.1": "555.42.06", "12.5.0": "555.42.02", "12.4.1": "550.54.15", "12.4.0": "550.54.14",
	"12.3.1": "545.23.08", "12.3.0": "545.23.06", "12.2.2": "535.104.05", "12.2.1": "535.86.09",
	"12.2.0": "535.54.03", "12.1": "530.30.02", "12.0.1": "525.85.12", "12.0.0": "525.60.13",
	"11.8": "520.61.05", "11.7.1": "515.48.07", "11.7.0": "515.43.04", "11.6.2": "510.47.03",
	"11.6.1": "510.47.03", "11.6.0": "510.39.01", "11.5": "495.29.05", "11.4.4": "470.82.01",
	"11.4.3": "470.82.01", "11.4.2": "470.57.02", "11.4.1": "470.57.02", "11.4.0": "470.42.01",
	"11.3": "465.19.01", "11.2.2": "460.32.03", "11.2.1": "460.32.03", "11.2.0": "460.27.03",
	"11.1.1": "455.32", "11.1.0": "455.23", "11.0.3": "450.51.06", "11.0.2": "450.51.05",
	"10.2": "440.33", "10.1": "418.39", "10.0": "410.48",
}

// MinDriver returns the minimum driver for a CUDA version. A version given
// only as major.minor (as PyTorch tags spell it) gets the highest minimum
// of that minor's releases, the safe choice. It returns "" for a CUDA
// release the table does not list.
func MinDriver(cuda Version) string {
	if cuda.IsZero() {
		return ""
	}
	mm := MinorOf(cuda)
	full := cuda.Sem.String()
	if d, ok := minDriver[full]; ok && strings.Count(cuda.Raw, ".") >= 2 {
		return d
	}
	if d, ok := minDriver[mm]; ok {
		return d
	}
	best := Version{}
	for k, d := range minDriver {
		if strings.HasPrefix(k, mm+".") {
			if v, err := Parse(d); err == nil && v.Compare(best) > 0 {
				best = v
			}
		}
	}
	return best.Raw
}

// CompareDrivers compares two NVIDIA driver versions (535.104.05).
func CompareDrivers(a, b string) int { return Compare(a, b) }

// compatMinimum is the oldest driver each CUDA major runs on through
// minor-version compatibility (NVIDIA's CUDA compatibility guide).
var compatMinimum = map[uint64]string{11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}

// CheckDriver compares a host driver with what the locked CUDA needs. It
// returns an error when the driver is too old to run it at all, and a
// warning when it runs only through minor-version compatibility (where
// PTX JIT compilation of newer code fails).
func CheckDriver(host, cuda, minDriver string) (warning string, err error) {
	if host == "" || minDriver == "" {
		return "", nil
	}
	if CompareDrivers(host, minDriver) >= 0 {
		return "", nil
	}
	cv, perr := Parse(cuda)
	if perr == nil {
		if floor, ok := compatMinimum[cv.Sem.Major()]; ok && CompareDrivers(host, floor) >= 0 {
			return fmt.Sprintf("the NVIDIA driver %s is older than %s, which CUDA %s asks for; it runs through CUDA minor-version compatibility, but PTX JIT compilation of newer kernels will fail: upgrade the driver to %s or newer", host, minDriver, cuda, minDriver), nil
		}
	}
	hint := "lock an image with an older CUDA"
	if perr == nil {
		hint = fmt.Sprintf("lock an image with an older CUDA (e.g. [image] cuda = \"<%s\")", MinorOf(cv))
	}
	return "", fmt.Errorf("the NVIDIA driver %s is too old for CUDA %s in this lock (it needs %s or newer): upgrade the driver, or %s", host, cuda, minDriver, hint)
}
