package schema_test

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

// FuzzParse: no input makes the decoder panic, and every rejection is a
// positioned schema error. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[image]\nfamily = \"pytorch\"\nversion = \"~2.1\"\n"))
	f.Add([]byte("[image]\nplatforms = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n")) // deep nesting
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schema.Parse("mlenv.toml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if _, err := s.Hashes(); err != nil && s.Pip.Requirements == "" {
			t.Fatalf("a valid spec without requirements file failed to hash: %v", err)
		}
	})
}
