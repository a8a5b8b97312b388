// Command mlenv is a lockfile for ML environments: it pins a framework
// image, its CUDA and cuDNN, and every pip package into mlenv.lock, and
// runs containers from exactly that lock.
//
// Exit codes are a contract (exit.go has the one table): 0 ok, 1
// failure, 2 usage or bad input, 3 stale lock, 125 `mlenv run` failed
// before the container started (126, 127: its command cannot run, is not
// found), 130 interrupted; otherwise `mlenv run` returns the container's.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mlenv/mlenv/runner"
)

// stopGrace is how long mlenv's own work (parsing, hashing, writing a
// layer) may take to notice a signal before mlenv exits anyway. What it
// leaves is named for this process and swept by the next run.
const stopGrace = time.Second

// stopSoon exits 130 after stopGrace, unless a user's container runs in
// the foreground: that one acts on the signal, and mlenv waits for it as
// docker run does.
func stopSoon() {
	time.Sleep(stopGrace)
	if !runner.InForeground() {
		fmt.Fprintln(os.Stderr, "mlenv: interrupted")
		os.Exit(exitInterrupted)
	}
}

// version is mlenv's version, recorded as the lock's generator.
var version = "0.1.0"

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	// Ctrl-C and SIGTERM cancel the work with the signal as the cause, so
	// a run passes the same signal on to its container. They stay caught
	// after the first: a second one is the runner's to act on.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range signals {
			cancel(runner.Interrupted{Signal: s})
			go stopSoon()
		}
	}()
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	os.Exit(code)
}
