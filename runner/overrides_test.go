package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/schema"
)

func TestOverridesApply(t *testing.T) {
	base := schema.Run{Workdir: "/src", GPUs: "auto", IPC: "host", Mounts: []string{"./data:/data"}, Env: map[string]string{"A": "1", "B": "2"}}
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"FROM_HOST": "h"}[k]
		return v, ok
	}
	got, err := Overrides{GPUs: "0,1", Workdir: "/w", Mounts: []string{"./out:/out"}, Env: []string{"B=3", "FROM_HOST", "UNSET"}}.Apply(base, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got.GPUs != "device=0,1" || got.Workdir != "/w" || got.IPC != "host" {
		t.Errorf("settings: %+v", got)
	}
	if strings.Join(got.Mounts, " ") != "./data:/data ./out:/out" || len(base.Mounts) != 1 {
		t.Errorf("mounts add to [run] mounts without changing it: %v (base %v)", got.Mounts, base.Mounts)
	}
	if got.Env["A"] != "1" || got.Env["B"] != "3" || got.Env["FROM_HOST"] != "h" || len(got.Env) != 3 || base.Env["B"] != "2" {
		t.Errorf("env: %v (base %v)", got.Env, base.Env)
	}
}

// A bad flag value is reported as the flag's, in mlenv.toml's words.
func TestOverridesNameTheFlag(t *testing.T) {
	_, err := Overrides{Workdir: "relative", ShmSize: "lots"}.Apply(schema.Run{Workdir: "/src"}, nil)
	var errs schema.Errors
	if !errors.As(err, &errs) || !errors.Is(err, schema.ErrBadInput) {
		t.Fatalf("err = %v, want schema.Errors", err)
	}
	msg := err.Error()
	for _, flag := range []string{"--workdir", "--shm-size"} {
		if !strings.Contains(msg, flag) {
			t.Errorf("error does not name %s: %s", flag, msg)
		}
	}
}
