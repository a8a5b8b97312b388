//go:build !unix

package runner

import "os"

// processGone cannot tell on this system: mlenv keeps what it cannot
// prove is left over.
func processGone(int) bool { return false }

// resizeSignals: this system sends none; the TTY keeps its first size.
var resizeSignals []os.Signal
