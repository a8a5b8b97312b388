package family_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/resolve/family"
	"github.com/mlenv/mlenv/schema"
)

// TestOnePass: family errors come in the same sorted list as the schema's
// own, so a user sees every problem at once.
func TestOnePass(t *testing.T) {
	src := "[image]\nfamily = \"pytorch\"\nvariant = \"nightly\"\ncuda = \">>12\"\nos = \"ubuntu\"\n[run]\nworkdir = \"src\"\ngpu = \"all\"\n"
	_, err := schema.Parse("mlenv.toml", []byte(src), family.Validate)
	var errs schema.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want schema.Errors", err)
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, strings.SplitN(e.Error(), "\n", 2)[0])
	}
	want := []string{
		`mlenv.toml:3: image.variant: unknown variant "nightly"`,
		`mlenv.toml:4: image.cuda: invalid version constraint ">>12"`,
		`mlenv.toml:5: image.os: family pytorch has no os choice`,
		`mlenv.toml:7: run.workdir: workdir "src" is not absolute`,
		`mlenv.toml:8: run.gpu: unknown key`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	if !errors.Is(err, schema.ErrBadInput) {
		t.Error("schema errors are not bad input")
	}
	var one *schema.Error
	if !errors.As(err, &one) || errors.Unwrap(one) == nil {
		t.Error("a schema.Error does not wrap its cause")
	}
}
