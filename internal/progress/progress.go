// Package progress shows mlenv's long work (downloads, writing a layer,
// loading into an engine, pushing) as phases. On a terminal a phase is
// one line redrawn as it goes, with its bytes and items against their
// totals; elsewhere (a CI log) nothing is printed while it runs and one
// line when it ends, with what it did and how long it took.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
)

// Printer prints phases to one writer. A nil *Printer prints nothing.
type Printer struct {
	w    io.Writer
	live bool
	mu   sync.Mutex
	now  func() time.Time
}

// New is a Printer on w: live redraws a phase as it goes (a terminal);
// otherwise only its end is printed.
func New(w io.Writer, live bool) *Printer {
	return &Printer{w: w, live: live, now: time.Now}
}

// Phase is one piece of long work. Its methods are safe for concurrent
// use, and a nil *Phase does nothing.
type Phase struct {
	p            *Printer
	what         string
	start        time.Time
	mu           sync.Mutex
	bytes, total int64
	items, count int
	drawn        time.Time
	ended        bool
}

// Start begins a phase: what it does ("Downloading the locked files"), the
// bytes and items it will take (0: not known).
func (p *Printer) Start(what string, totalBytes int64, items int) *Phase {
	if p == nil {
		return nil
	}
	ph := &Phase{p: p, what: what, start: p.now(), total: totalBytes, count: items}
	ph.draw(true)
	return ph
}

// Add counts n more bytes done.
func (ph *Phase) Add(n int64) {
	if ph == nil {
		return
	}
	ph.mu.Lock()
	ph.bytes += n
	ph.mu.Unlock()
	ph.draw(false)
}

// Set says how many bytes are done of how many (0: the total stays).
func (ph *Phase) Set(done, total int64) {
	if ph == nil {
		return
	}
	ph.mu.Lock()
	ph.bytes = done
	if total > 0 {
		ph.total = total
	}
	ph.mu.Unlock()
	ph.draw(false)
}

// Item counts one more item done.
func (ph *Phase) Item() {
	if ph == nil {
		return
	}
	ph.mu.Lock()
	ph.items++
	ph.mu.Unlock()
	ph.draw(false)
}

// Writer counts what is written through it.
func (ph *Phase) Writer(w io.Writer) io.Writer {
	if ph == nil {
		return w
	}
	return counting{w: w, ph: ph}
}

// Reader counts what is read through it.
func (ph *Phase) Reader(r io.Reader) io.Reader {
	if ph == nil {
		return r
	}
	return countingReader{r: r, ph: ph}
}

// End ends the phase: its final line, with its duration.
func (ph *Phase) End() {
	if ph == nil {
		return
	}
	ph.mu.Lock()
	if ph.ended {
		ph.mu.Unlock()
		return
	}
	ph.ended = true
	line := ph.line() + " in " + ph.p.now().Sub(ph.start).Round(100*time.Millisecond).String()
	ph.mu.Unlock()
	ph.p.print(line, true)
}

// draw redraws a live phase at most ten times a second.
func (ph *Phase) draw(force bool) {
	if !ph.p.live {
		return
	}
	ph.mu.Lock()
	now := ph.p.now()
	if ph.ended || !force && now.Sub(ph.drawn) < 100*time.Millisecond {
		ph.mu.Unlock()
		return
	}
	ph.drawn = now
	line := ph.line()
	ph.mu.Unlock()
	ph.p.print(line, false)
}

// line is what the phase did so far: "Downloading 3/12 files, 412MB of 960MB".
func (ph *Phase) line() string {
	var parts []string
	if ph.count > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d", ph.items, ph.count))
	}
	if ph.bytes > 0 || ph.total > 0 {
		s := units.HumanSize(float64(ph.bytes))
		if ph.total > 0 {
			s += " of " + units.HumanSize(float64(ph.total))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ph.what
	}
	return ph.what + ": " + strings.Join(parts, ", ")
}

// print writes a line: on a terminal over the last one (\r, erase), ended
// with a newline when final; off a terminal, final lines only.
func (p *Printer) print(line string, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.live && final:
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", line)
	case p.live:
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	case final:
		fmt.Fprintln(p.w, line)
	}
}

type counting struct {
	w  io.Writer
	ph *Phase
}

func (c counting) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.ph.Add(int64(n))
	return n, err
}

type countingReader struct {
	r  io.Reader
	ph *Phase
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.ph.Add(int64(n))
	return n, err
}
