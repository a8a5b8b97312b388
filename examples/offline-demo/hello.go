//go:build ignore

// hello is the demo image's only program (a static binary, so the image
// needs nothing else).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hello from the locked image; CUDA", os.Getenv("CUDA_VERSION"), "args", os.Args[1:])
}
