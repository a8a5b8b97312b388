package redact

import "testing"

func TestURL(t *testing.T) {
	tests := map[string]string{
		"https://pypi.org/simple":                        "https://pypi.org/simple",
		"https://user:secret@pypi.example/simple":        "https://pypi.example/simple",
		"http://token@127.0.0.1:8080/simple/":            "http://127.0.0.1:8080/simple/",
		"https://us%zz:secret@host/simple":               "https://host/simple",
		"https://a:b@c@host":                             "https://host",
		"https://files.example/p/x-1.0-py3-none-any.whl": "https://files.example/p/x-1.0-py3-none-any.whl",
		"not a url": "not a url",
	}
	for in, want := range tests {
		got := URL(in)
		if got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
