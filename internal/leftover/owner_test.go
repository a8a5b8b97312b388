package leftover

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestDeadOwner(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := cmd.Process.Pid
	for owner, dead := range map[string]bool{
		Owner():                                 false, // this process
		host + "/" + strconv.Itoa(gone):         true,
		"other-host/" + strconv.Itoa(gone):      false, // not ours to judge
		host + "/1":                             false, // alive (init)
		"garbage":                               false,
		host + "/" + strconv.Itoa(os.Getppid()): false,
	} {
		if got := DeadOwner(owner); got != dead {
			t.Errorf("DeadOwner(%q) = %v, want %v", owner, got, dead)
		}
	}
}
