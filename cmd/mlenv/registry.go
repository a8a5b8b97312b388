package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/term"

	"github.com/mlenv/mlenv/internal/progress"
	"github.com/mlenv/mlenv/internal/registry"
)

// newRegistry returns registry access with docker's credentials, showing
// tag-listing progress when stderr is a terminal.
func newRegistry(g *globalOptions, stderr io.Writer) (*registry.Registry, error) {
	o := registry.Options{UserAgent: "mlenv/" + version, Timeout: g.registryTimeout, Phases: phases(g, stderr)}
	if !g.quiet && isTerminal(stderr) {
		o.Progress = func(repo string, tags int) {
			if tags < 0 {
				fmt.Fprint(stderr, "\r\033[K")
				return
			}
			fmt.Fprintf(stderr, "\rListing tags of %s: %d", repo, tags)
		}
		o.OnRetry = func(host string, reason error, wait time.Duration, attempt, attempts int) {
			fmt.Fprintf(stderr, "\r\033[Kregistry %s: %v; retrying in %s (attempt %d of %d, then mlenv gives up)\n", host, reason, wait.Round(100*time.Millisecond), attempt, attempts)
		}
	}
	r, err := registry.New(o)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// progressOut is where long work (pulls, pip) shows progress: stderr when
// it is a terminal, nowhere otherwise, so CI logs stay quiet.
func progressOut(g *globalOptions, stderr io.Writer) io.Writer {
	if g.quiet || !isTerminal(stderr) {
		return nil
	}
	return stderr
}

// phases shows long work (downloads, writing a layer, loads, pushes) on
// stderr: redrawn with bytes and totals on a terminal, one line per
// phase with its duration elsewhere (CI logs); nothing with --quiet. One
// printer per command.
func phases(g *globalOptions, stderr io.Writer) *progress.Printer {
	if g.quiet {
		return nil
	}
	if g.printer == nil {
		g.printer = progress.New(stderr, isTerminal(stderr))
	}
	return g.printer
}
