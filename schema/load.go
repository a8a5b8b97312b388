package schema

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the name of the project file mlenv looks for.
const FileName = "mlenv.toml"

// Check validates what the schema alone cannot know (the image families,
// say); its problems join the schema's own in one sorted list.
type Check func(*Spec) Errors

// Load reads, decodes, validates and defaults the mlenv.toml at path. Every
// problem, the schema's and the checks', is reported at once as Errors
// naming the file, line and key; a missing file is an error wrapping
// fs.ErrNotExist.
func Load(path string, checks ...Check) (*Spec, error) {
	data, err := ReadInput(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, checks...)
}

// Parse is Load for data already read from path.
func Parse(path string, data []byte, checks ...Check) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := CheckInput(path, data); err != nil {
		return nil, err
	}
	s := &Spec{Path: path, Dir: filepath.Dir(abs), src: data}
	// Decoded without a schema first: every mistyped value is reported at
	// once, with the unknown keys, before the typed decode would stop at
	// the first.
	var raw map[string]any
	rawMD, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, s.decodeError(err)
	}
	if typeErrs := s.typeErrors(reflect.TypeFor[Spec](), raw, ""); len(typeErrs) > 0 {
		errs := append(typeErrs, s.undecoded(unknownKeys(rawMD.Keys(), reflect.TypeFor[Spec]()))...)
		errs.sort()
		return nil, errs
	}
	md, err := toml.Decode(string(data), s)
	if err != nil {
		return nil, s.decodeError(err)
	}
	errs := append(s.undecoded(md.Undecoded()), s.validate()...)
	for _, check := range checks {
		errs = append(errs, check(s)...)
	}
	errs.sort()
	if len(errs) > 0 {
		return nil, errs
	}
	s.applyDefaults()
	return s, nil
}

func (s *Spec) decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := strings.TrimPrefix(pe.Message, "toml: ")
		return &Error{File: s.Path, Line: pe.Position.Line, Key: pe.LastKey, Err: errors.New(msg), Hint: pe.Usage}
	}
	if m := typeErrorRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: s.Path, Line: line, Key: m[2], Err: errors.New(friendlyTypes.Replace(m[3]))}
	}
	return &Error{File: s.Path, Err: errors.New(strings.TrimPrefix(err.Error(), "toml: "))}
}

// typeErrorRe reads BurntSushi/toml's type-mismatch errors, which carry
// the line and key in their text rather than as a ParseError.
var typeErrorRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]+)"\): (.*)$`)

var friendlyTypes = strings.NewReplacer("incompatible types: ", "", "; destination has type slice", "; want an array",
	"; destination has type map", "; want a table", "; destination has type struct", "; want a table",
	"; destination has type string", "; want a string", "; destination has type int", "; want an integer",
	"; destination has type bool", "; want a boolean")

// undecoded turns every key the Spec did not consume into an error with a
// "did you mean" hint drawn from the keys valid in that table.
func (s *Spec) undecoded(keys []toml.Key) Errors {
	var errs Errors
	for _, k := range keys {
		parent := k[:len(k)-1]
		if len(parent) > 0 && isUndecoded(keys, parent) {
			continue // reported at its table
		}
		valid := knownKeys(parent)
		e := s.Errorf(k.String(), "", "unknown key")
		if len(parent) == 0 {
			e.Err = errors.New("unknown table or key")
		}
		if guess := Suggest(k[len(k)-1], valid); guess != "" {
			e.Hint = fmt.Sprintf("did you mean %q?", strings.Join(append(parentStrings(parent), guess), "."))
		} else if len(valid) > 0 {
			e.Hint = "valid keys here: " + strings.Join(valid, ", ")
		}
		errs = append(errs, e)
	}
	return errs
}

// lineOrder sorts problems by line, those without one last.
func lineOrder(e *Error) int {
	if e.Line == 0 {
		return int(^uint(0) >> 1)
	}
	return e.Line
}

func isUndecoded(keys []toml.Key, k toml.Key) bool {
	for _, u := range keys {
		if u.String() == k.String() {
			return true
		}
	}
	return false
}

func parentStrings(k toml.Key) []string { return append([]string{}, k...) }

// knownKeys lists the TOML keys valid in the table at path.
func knownKeys(path toml.Key) []string {
	t := reflect.TypeOf(Spec{})
	for _, part := range path {
		f, ok := fieldByTag(t, part)
		if !ok || f.Type.Kind() != reflect.Struct {
			return nil
		}
		t = f.Type
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag := tomlName(t.Field(i)); tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if tomlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("toml"), ",")[0]
	if tag == "-" {
		return ""
	}
	return tag
}

// unknownKeys are the keys among keys (every key of the file) that the
// Spec type does not know, at any depth.
func unknownKeys(keys []toml.Key, t reflect.Type) []toml.Key {
	var out []toml.Key
	for _, k := range keys {
		cur := t
		for i, part := range k {
			f, ok := fieldByTag(cur, part)
			if !ok {
				out = append(out, k[:i+1])
				break
			}
			if f.Type.Kind() != reflect.Struct {
				break
			}
			cur = f.Type
		}
	}
	return slices.CompactFunc(out, func(a, b toml.Key) bool { return a.String() == b.String() })
}
