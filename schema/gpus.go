package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// GPUs is the [run] gpus setting: "all", "none", "auto", a count, or a list
// of device ids. In TOML it may be a string, an integer or an array.
type GPUs string

// UnmarshalTOML accepts a string, a non-negative integer or an array of
// device ids (strings or integers).
func (g *GPUs) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*g = GPUs(strings.TrimSpace(v))
	case int64:
		if v < 0 {
			return fmt.Errorf("gpus count %d is negative", v)
		}
		*g = GPUs(strconv.FormatInt(v, 10))
	case []any:
		ids := make([]string, 0, len(v))
		for _, e := range v {
			switch e := e.(type) {
			case string:
				ids = append(ids, e)
			case int64:
				ids = append(ids, strconv.FormatInt(e, 10))
			default:
				return fmt.Errorf("gpus device id %v is a %T; want a string or an integer", e, e)
			}
		}
		*g = Devices(ids)
	default:
		return fmt.Errorf("gpus is a %T; want \"all\", \"none\", \"auto\", a count or a list of device ids", v)
	}
	return nil
}

// Mode classifies the setting: "all", "none", "auto", "count", "devices",
// or "invalid" for anything else (docker, too, wants device=… for ids).
func (g GPUs) Mode() string {
	s := string(g)
	switch {
	case s == "all" || s == "none" || s == "auto":
		return s
	case strings.HasPrefix(s, "device="):
		return "devices"
	}
	if _, err := strconv.Atoi(s); err == nil {
		return "count"
	}
	return "invalid"
}

// Count is the number of GPUs asked for in "count" mode.
func (g GPUs) Count() int {
	n, _ := strconv.Atoi(string(g))
	return n
}

// DeviceIDs lists the device ids asked for in "devices" mode.
func (g GPUs) DeviceIDs() []string {
	s := strings.TrimPrefix(string(g), "device=")
	var ids []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func (g GPUs) validate() error {
	if g.Mode() == "invalid" {
		return fmt.Errorf("invalid gpus %q", string(g))
	}
	if g.Mode() == "devices" && len(g.DeviceIDs()) == 0 {
		return fmt.Errorf("no device ids in %q", string(g))
	}
	if g.Mode() == "count" && g.Count() < 1 {
		return fmt.Errorf("gpus count must be at least 1; use \"none\" for no GPU")
	}
	return nil
}

// Devices asks for these GPUs by index or UUID, as docker's --gpus
// device=0,1 does.
func Devices(ids []string) GPUs { return GPUs("device=" + strings.Join(ids, ",")) }
