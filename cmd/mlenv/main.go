// Command mlenv is a lockfile for ML environments: it pins a framework
// image, its CUDA and cuDNN, and every pip package into mlenv.lock, and
// runs containers from exactly that lock.
//
// Exit codes are a contract: 0 ok, 1 failure, 2 usage or bad input,
// 3 stale lock, 125 `mlenv run` failed before the container started,
// 130 interrupted; otherwise `mlenv run` returns the container's code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is mlenv's version, recorded as the lock's generator.
var version = "0.1.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
