package schema

import (
	"fmt"
	"strings"
)

// Env is [run] env: environment variables by name. mlenv.toml may write it
// as a table (env = { SEED = "42" }) or, as docker users do, as a list of
// NAME=VALUE strings (env = ["WANDB_MODE=offline"]); anything else is an
// error, never dropped.
type Env map[string]string

// UnmarshalTOML reads either spelling.
func (e *Env) UnmarshalTOML(v any) error {
	out := Env{}
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			s, ok := val.(string)
			if !ok {
				return fmt.Errorf("%s: write the value as a string, e.g. %s = \"%v\"", k, k, val)
			}
			out[k] = s
		}
	case []any:
		for _, item := range v {
			s, ok := item.(string)
			k, val, hasEq := strings.Cut(s, "=")
			if !ok || !hasEq {
				return fmt.Errorf("%v: write NAME=VALUE, e.g. [\"WANDB_MODE=offline\"], or a table, env = { WANDB_MODE = \"offline\" }", item)
			}
			out[k] = val
		}
	default:
		return fmt.Errorf("write a table, env = { WANDB_MODE = \"offline\" }, or a list, env = [\"WANDB_MODE=offline\"]")
	}
	*e = out
	return nil
}
