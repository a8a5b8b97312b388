package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultStall is how long an engine pull or load may go without progress
// when the Engine says nothing else (mlenv's --registry-timeout).
const DefaultStall = 60 * time.Second

// errStalled is the cause of a pull or load cancelled for want of progress.
var errStalled = errors.New("no progress")

// stallWatch is a context cancelled when Touch has not been called for d:
// a pull whose registry never answers, or a load the engine stops
// reading, ends instead of waiting forever.
type stallWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	d      time.Duration
	mu     sync.Mutex
	done   bool // Finish was called: progress no longer watched
}

func watchStall(ctx context.Context, d time.Duration) *stallWatch {
	if d <= 0 {
		d = DefaultStall
	}
	w := &stallWatch{d: d}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.timer = time.AfterFunc(d, func() { w.cancel(errStalled) })
	return w
}

// Touch says progress was made.
func (w *stallWatch) Touch() {
	w.mu.Lock()
	if !w.done {
		w.timer.Reset(w.d)
	}
	w.mu.Unlock()
}

// Finish stops watching for progress, leaving the context live: what
// follows is local work.
func (w *stallWatch) Finish() {
	w.mu.Lock()
	w.done = true
	w.timer.Stop()
	w.mu.Unlock()
}

// Stop ends the watch (and its context).
func (w *stallWatch) Stop() {
	w.timer.Stop()
	w.cancel(nil)
}

// Stalled says the watch cancelled its context.
func (w *stallWatch) Stalled() bool { return errors.Is(context.Cause(w.ctx), errStalled) }

// Reader is r, each read that returns bytes counting as progress (a
// pull's progress stream as mlenv reads it; a load's archive as the engine
// takes it).
func (w *stallWatch) Reader(r io.Reader) io.Reader { return stallReader{r, w} }

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.w.Touch()
	}
	return n, err
}

// StalledError is an engine pull or load that made no progress for the
// stall limit.
type StalledError struct {
	What     string // "pull REF", "load TAG"
	Registry string // the registry a pull waits for, or ""
	After    time.Duration
}

func (e *StalledError) Error() string {
	if e.Registry != "" {
		return fmt.Sprintf("%s: the engine got nothing from the registry %s for %s: it does not answer; check the network and the registry, or wait longer with --registry-timeout", e.What, e.Registry, e.After)
	}
	return fmt.Sprintf("%s: the engine took nothing for %s: it is stuck; check `docker info`, or wait longer with --registry-timeout", e.What, e.After)
}
