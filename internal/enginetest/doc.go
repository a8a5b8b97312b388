// Package enginetest gives integration tests the real parts they run
// against: the Docker engine and a Debian docker-registry server on a
// loopback port. Where a part is missing the test is skipped with a clear
// message, except under CI=true, where a missing part is a failure.
//
// The parts are Linux programs (dockerd, podman, debootstrap), so the
// package has code on Linux only.
package enginetest
