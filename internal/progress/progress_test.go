package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock is a fake time that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func printer(live bool) (*Printer, *bytes.Buffer, *clock) {
	var buf bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	p := New(&buf, live)
	p.now = c.now
	return p, &buf, c
}

// Off a terminal (a CI log) a phase is one line, at its end, with what it
// did and its duration.
func TestPhaseInALogIsOneLine(t *testing.T) {
	p, buf, c := printer(false)
	ph := p.Start("Downloading", 3_000_000, 2)
	ph.Add(1_000_000)
	ph.Item()
	c.t = c.t.Add(time.Second)
	ph.Add(2_000_000)
	ph.Item()
	c.t = c.t.Add(500 * time.Millisecond)
	ph.End()
	ph.End()
	if got, want := buf.String(), "Downloading: 2/2, 3MB of 3MB in 1.5s\n"; got != want {
		t.Errorf("the log shows %q, want %q", got, want)
	}
}

// On a terminal the line is redrawn as the phase goes, at most ten times
// a second, and ends with a newline.
func TestPhaseOnATerminalRedraws(t *testing.T) {
	p, buf, c := printer(true)
	ph := p.Start("Pushing", 0, 0)
	ph.Set(1_000_000, 4_000_000)
	ph.Set(1_500_000, 0) // within 100ms: not drawn
	c.t = c.t.Add(200 * time.Millisecond)
	ph.Set(2_000_000, 0)
	ph.End()
	want := "\r\x1b[KPushing" + "\r\x1b[KPushing: 2MB of 4MB" + "\r\x1b[KPushing: 2MB of 4MB in 200ms\n"
	if got := buf.String(); got != want {
		t.Errorf("the terminal shows %q,\nwant %q", got, want)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("more than one line: %q", buf.String())
	}
}

// A nil Printer and its nil phases print nothing and count through.
func TestNilPrintsNothing(t *testing.T) {
	var p *Printer
	ph := p.Start("x", 1, 1)
	var buf bytes.Buffer
	if _, err := ph.Writer(&buf).Write([]byte("abc")); err != nil || buf.String() != "abc" {
		t.Errorf("a nil phase's writer: %q %v", buf.String(), err)
	}
	ph.Add(1)
	ph.Item()
	ph.End()
}
