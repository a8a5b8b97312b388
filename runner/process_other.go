//go:build !unix

package runner

import "os"

// resizeSignals: this system sends none; the TTY keeps its first size.
var resizeSignals []os.Signal
