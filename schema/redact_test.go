package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://pypi.org/simple":                        true,
		"http://user:secret@127.0.0.1:8080/simple/":      true, // credentials are the lock's rule, not mlenv.toml's
		"ftp://host/simple":                              false,
		"https:///simple":                                false,
		"https://pypi.org/simple\n--find-links http://x": false,
		"https://pypi.org/simple --pre":                  false,
		"https://pypi.org/simple#egg=x":                  false,
	} {
		err := schema.CheckURL(raw)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", raw, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckURL(%q) prints the secret: %v", raw, err)
		}
	}
}

func TestExpandURL(t *testing.T) {
	env := map[string]string{"U": "alice", "T": "p@ss word"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := schema.ExpandURL("https://${U}:${T}@idx.example/simple", lookup)
	if err != nil || got != "https://alice:p%40ss%20word@idx.example/simple" {
		t.Errorf("expanded = %q, %v", got, err)
	}
	for _, bad := range []string{"https://idx.example/${U}/simple", "https://${U}.example/simple", "https://${MISSING}@idx.example/simple"} {
		if _, err := schema.ExpandURL(bad, lookup); !errors.Is(err, schema.ErrBadInput) {
			t.Errorf("ExpandURL(%q): %v, want bad input", bad, err)
		}
	}
}
