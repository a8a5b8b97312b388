package version

import (
	"fmt"
	"strings"
)

// Requirement is an image's NVIDIA_REQUIRE_CUDA as the NVIDIA container
// runtime reads it: alternatives separated by spaces, each a set of
// conditions joined by commas ("cuda>=12.4 brand=tesla,driver>=470,driver<471").
// The runtime starts the image when one alternative holds; the brand
// alternatives are forward compatibility through the image's cuda-compat
// libraries on data-center GPUs.
type Requirement struct {
	Raw          string
	alternatives [][]condition
}

type condition struct {
	key, op, value string // cuda >= 12.4, driver < 471, brand = tesla
}

// ParseRequirement reads an NVIDIA_REQUIRE_CUDA value.
func ParseRequirement(s string) (Requirement, error) {
	r := Requirement{Raw: strings.TrimSpace(s)}
	for _, alt := range strings.Fields(s) {
		var conds []condition
		for _, c := range strings.Split(alt, ",") {
			cond, err := parseCondition(c)
			if err != nil {
				return Requirement{}, fmt.Errorf("NVIDIA_REQUIRE_CUDA %q: %w", s, err)
			}
			conds = append(conds, cond)
		}
		r.alternatives = append(r.alternatives, conds)
	}
	return r, nil
}

func parseCondition(c string) (condition, error) {
	for _, op := range []string{">=", "<=", "!=", "=", ">", "<"} {
		if k, v, ok := strings.Cut(c, op); ok && k != "" && v != "" {
			return condition{strings.ToLower(k), op, v}, nil
		}
	}
	return condition{}, fmt.Errorf("condition %q is not key<op>value", c)
}

// Host is what a requirement is checked against: the driver, the CUDA
// version it supports, and the GPU's brand (tesla, geforce, nvidiartx, …).
type Host struct {
	Driver, DriverCUDA, Brand string
}

// Satisfied reports whether the runtime would start the image on host.
// An empty requirement is always satisfied.
func (r Requirement) Satisfied(h Host) bool {
	if len(r.alternatives) == 0 {
		return true
	}
	for _, alt := range r.alternatives {
		if all(alt, h) {
			return true
		}
	}
	return false
}

func all(conds []condition, h Host) bool {
	for _, c := range conds {
		if !c.holds(h) {
			return false
		}
	}
	return true
}

func (c condition) holds(h Host) bool {
	var have string
	switch c.key {
	case "cuda":
		have = h.DriverCUDA
	case "driver":
		have = h.Driver
	case "brand":
		return (c.op == "=") == strings.EqualFold(c.value, h.Brand)
	default:
		return true // conditions the runtime checks elsewhere (arch)
	}
	if have == "" {
		return false
	}
	cmp := Compare(have, c.value)
	switch c.op {
	case ">=":
		return cmp >= 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case "<":
		return cmp < 0
	case "=":
		return cmp == 0
	}
	return cmp != 0
}

// CUDA is the CUDA version the requirement's cuda condition asks for
// ("12.4" of "cuda>=12.4 brand=…"), or "".
func (r Requirement) CUDA() string {
	for _, alt := range r.alternatives {
		for _, c := range alt {
			if c.key == "cuda" && c.op == ">=" {
				return c.value
			}
		}
	}
	return ""
}

// DriverCUDA is the newest CUDA release a driver supports (535.104.05 →
// "12.2"), from NVIDIA's table of minimum drivers; "" when unknown.
func DriverCUDA(driver string) string {
	best := ""
	for release, min := range minDriver {
		if CompareDrivers(driver, min) < 0 {
			continue
		}
		v, err := Parse(release)
		if err != nil {
			continue
		}
		if mm := MinorOf(v); best == "" || Compare(mm, best) > 0 {
			best = mm
		}
	}
	return best
}
