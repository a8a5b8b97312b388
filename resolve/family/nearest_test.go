package family

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

// TestNearestIsNearTheConstraint: with no 2.3.x tag, the nearest tags
// listed for version 2.3 are 2.2 and 2.4, one tag per version, before
// 2.1, and 2.5 and 2.7 after those.
func TestNearestIsNearTheConstraint(t *testing.T) {
	f := Families["pytorch"]
	tags := []string{"2.7.1-cuda12.6-cudnn9-runtime", "2.7.1-cuda12.8-cudnn9-runtime", "2.5.1-cuda12.4-cudnn9-runtime",
		"2.4.0-cuda12.4-cudnn9-runtime", "2.2.0-cuda12.1-cudnn8-runtime", "2.1.2-cuda12.1-cudnn8-runtime"}
	cs, err := ConstraintsOf(schema.Image{Family: "pytorch", Version: "~2.3"})
	if err != nil {
		t.Fatal(err)
	}
	ok, rejected := f.Candidates(tags, cs)
	if len(ok) != 0 {
		t.Fatalf("candidates %v", ok)
	}
	var got []string
	for _, r := range f.Nearest(rejected, cs, 3) {
		got = append(got, r.Tag)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "2.") || got[2] != "2.1.2-cuda12.1-cudnn8-runtime" ||
		!(strings.HasPrefix(got[0], "2.4.0") || strings.HasPrefix(got[0], "2.2.0")) || !(strings.HasPrefix(got[1], "2.4.0") || strings.HasPrefix(got[1], "2.2.0")) {
		t.Errorf("nearest = %v, want 2.2.0 and 2.4.0, then 2.1.2 (nearer than 2.5.1)", got)
	}
}
