package version

import (
	"fmt"
	"strconv"
	"strings"
)

// RunsOn says whether a build with archs (torch.cuda.get_arch_list():
// "sm_80", "sm_90a", "compute_90") can run on a GPU of compute capability
// cc ("8.6"): a cubin sm_XY runs on X.Z for Z ≥ Y (an "a" cubin on X.Y
// alone); PTX compute_XY is compiled just in time for any cc ≥ X.Y. jit
// says the GPU is served by PTX alone (slower first start, and it needs a
// driver as new as the build's CUDA).
func RunsOn(archs []string, cc string) (ok, jit bool) {
	major, minor, good := parseCC(cc)
	if !good {
		return true, false // nothing to judge by
	}
	for _, a := range archs {
		kind, m, n, exact, ok := parseArch(a)
		if !ok || kind != "sm" {
			continue
		}
		if m == major && (n == minor || !exact && n < minor) {
			return true, false
		}
	}
	for _, a := range archs {
		kind, m, n, _, ok := parseArch(a)
		if ok && kind == "compute" && (m < major || m == major && n <= minor) {
			return true, true
		}
	}
	return false, false
}

// ArchsFromList turns TORCH_CUDA_ARCH_LIST ("7.0 8.0 9.0+PTX", or with
// semicolons) into get_arch_list's spelling (sm_70, sm_80, sm_90,
// compute_90).
func ArchsFromList(list string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ' ' || r == ';' || r == ',' }) {
		cc, ptx := strings.CutSuffix(f, "+PTX")
		major, minor, ok := parseCC(cc)
		if !ok {
			continue
		}
		code := strconv.Itoa(major) + strconv.Itoa(minor)
		out = append(out, "sm_"+code)
		if ptx {
			out = append(out, "compute_"+code)
		}
	}
	return out
}

func parseCC(cc string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(cc), ".")
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	return major, minor, found && err1 == nil && err2 == nil
}

// parseArch reads "sm_86", "sm_90a" or "compute_90": the kind, the
// compute capability (the last digit is the minor) and whether it is an
// architecture-specific ("a") build.
func parseArch(a string) (kind string, major, minor int, exact, ok bool) {
	kind, code, found := strings.Cut(a, "_")
	if !found || (kind != "sm" && kind != "compute") {
		return "", 0, 0, false, false
	}
	code, exact = strings.CutSuffix(code, "a")
	if len(code) < 2 {
		return "", 0, 0, false, false
	}
	major, err1 := strconv.Atoi(code[:len(code)-1])
	minor, err2 := strconv.Atoi(code[len(code)-1:])
	return kind, major, minor, exact, err1 == nil && err2 == nil
}

// CuDNN spells torch.backends.cudnn.version()'s number as a version:
// 90100 → "9.1.0" (cuDNN 9: major*10000 + minor*100 + patch), 8902 →
// "8.9.2" (before: major*1000 + minor*100 + patch).
func CuDNN(n int) string {
	if n >= 10000 {
		return fmt.Sprintf("%d.%d.%d", n/10000, n%10000/100, n%100)
	}
	return fmt.Sprintf("%d.%d.%d", n/1000, n%1000/100, n%100)
}
