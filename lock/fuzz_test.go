package lock_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
)

// FuzzUnmarshal: no input makes the decoder panic, and a lock it accepts
// encodes back to the same lock. Seeds live in testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	if b, err := lock.Marshal(sample()); err == nil {
		f.Add(b)
		f.Add(append(b, []byte("\nx = "+strings.Repeat("[", 100))...)) // deep nesting
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := lock.Unmarshal("mlenv.lock", data)
		if err != nil {
			return
		}
		out, err := lock.Marshal(l)
		if err != nil {
			t.Fatalf("an accepted lock does not encode: %v", err)
		}
		again, err := lock.Unmarshal("mlenv.lock", out)
		if err != nil {
			t.Fatalf("a re-encoded lock is refused: %v", err)
		}
		if out2, _ := lock.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not stable:\n%s\n---\n%s", out, out2)
		}
	})
}
