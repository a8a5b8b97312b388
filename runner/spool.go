package runner

import (
	"io"
	"os"

	"github.com/mlenv/mlenv/internal/leftover"
)

// spoolToTemp writes r to a new temporary file and returns its path.
func spoolToTemp(r io.Reader) (string, error) {
	f, err := leftover.CreateTemp("", "mlenv-save-*.tar")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
