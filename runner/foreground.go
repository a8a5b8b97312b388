package runner

import "sync/atomic"

// foreground counts the user's containers running attached (Run): while
// one does, a signal is the container's to act on, and mlenv waits for it.
var foreground atomic.Int32

// InForeground reports whether a user's container is running attached.
func InForeground() bool { return foreground.Load() > 0 }
