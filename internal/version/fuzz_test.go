package version_test

import (
	"testing"

	"github.com/mlenv/mlenv/internal/version"
)

func FuzzParseVersion(f *testing.F) {
	for _, v := range []string{"8.9.0.131", "9.1.0.70-1", "12.2.2.009", "2.1.0a0+32f93b1", "v1", ""} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := version.Parse(s)
		if err == nil && (v.Sem == nil || v.Raw == "") {
			t.Fatalf("Parse(%q) = %+v without error", s, v)
		}
	})
}
