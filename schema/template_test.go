package schema

import "testing"

func TestVersionConstraint(t *testing.T) {
	for in, want := range map[string]string{"2.1": "~2.1", " 2.1 ": "~2.1", ">=2.1": ">=2.1", "~2.1": "~2.1", ">=2, <3": ">=2, <3", "": ""} {
		if got := VersionConstraint(in); got != want {
			t.Errorf("VersionConstraint(%q) = %q, want %q", in, got, want)
		}
	}
}

// The template is a valid mlenv.toml for a family and for a ref.
func TestTemplateParses(t *testing.T) {
	for _, tpl := range []Template{
		{Name: "p", Family: "pytorch", Families: []string{"pytorch"}, Version: "2.1", Requirements: "requirements.txt"},
		{Name: "p", Ref: "nvcr.io/nvidia/pytorch:24.03-py3", CUDA: ">=12"},
	} {
		spec, err := Parse("mlenv.toml", []byte(tpl.Render()))
		if err != nil {
			t.Errorf("%+v: %v\n%s", tpl, err, tpl.Render())
			continue
		}
		// A researcher's files are their own, and HOME keeps their caches.
		if spec.Run.User != "host" {
			t.Errorf("the template runs as %q, want user = \"host\"", spec.Run.User)
		}
	}
}
