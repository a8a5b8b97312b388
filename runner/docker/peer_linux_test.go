package docker

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// The socket's peer is the process that listens on it: here, this test.
func TestPeerPID(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	pid, uid, err := peer(socket)
	if err != nil || pid != os.Getpid() || uid != os.Getuid() {
		t.Fatalf("peer = %d, %d, %v; want %d, %d", pid, uid, err, os.Getpid(), os.Getuid())
	}
	env, err := (&local{socket: socket}).DaemonEnv()
	if err != nil || len(env) == 0 {
		t.Fatalf("DaemonEnv: %d entries, %v", len(env), err)
	}
}
