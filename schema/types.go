package schema

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

var unmarshaler = reflect.TypeFor[toml.Unmarshaler]()

// typeErrors checks every value of raw (mlenv.toml decoded without a
// schema) against the type of its field in Spec, so that all mistyped
// values are reported at once, in the user's words ("a string like
// "~2.1", not a number"), rather than the decoder's first. Keys Spec does
// not know are left to undecoded.
func (s *Spec) typeErrors(t reflect.Type, raw map[string]any, prefix string) Errors {
	var errs Errors
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		f, ok := fieldByTag(t, k)
		if !ok {
			continue
		}
		key := strings.TrimPrefix(prefix+"."+k, ".")
		v := raw[k]
		if reflect.PointerTo(f.Type).Implements(unmarshaler) {
			if err := reflect.New(f.Type).Interface().(toml.Unmarshaler).UnmarshalTOML(v); err != nil {
				errs = append(errs, s.Errorf(key, "", "%v", err))
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			if table, ok := v.(map[string]any); ok {
				errs = append(errs, s.typeErrors(f.Type, table, key)...)
			} else {
				errs = append(errs, s.Errorf(key, "", "a table ([%s]), not %s", key, kindOf(v)))
			}
			continue
		}
		if msg := typeMismatch(f, v); msg != "" {
			errs = append(errs, s.Errorf(key, "", "%s", msg))
		}
	}
	return errs
}

// typeMismatch says how v fails f's type, or "".
func typeMismatch(f reflect.StructField, v any) string {
	example := f.Tag.Get("example")
	switch f.Type.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("a string like %q, not %s", example, kindOf(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("true or false, not %s", kindOf(v))
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("a list like [%q], not %s", example, kindOf(v))
		}
		for i, item := range list {
			if _, ok := item.(string); !ok {
				return fmt.Sprintf("a list of strings like [%q]; item %d is %s", example, i+1, kindOf(item))
			}
		}
	}
	return ""
}

// kindOf names a TOML value's kind for a person.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "true/false"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}
