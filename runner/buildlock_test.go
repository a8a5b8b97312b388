package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/userdir"
	"github.com/mlenv/mlenv/runner"
)

// Two unprivileged users of one machine, sharing $TMPDIR.
const (
	victim   = "mlenv-alice"
	attacker = "mlenv-mallory"
	lockKey  = "0123456789abcdef0123"
)

// TestBuildLocksBelongToTheUser: with another user's links and FIFOs
// planted where mlenv used to keep build locks and downloads (a shared
// $TMPDIR), a user's build lock and cache are their own: taken at once,
// nothing created at a link's target, nothing the other user can plant
// into; a second build waits saying for whom, and a signal ends the wait
// within a second. Without HOME, mlenv refuses rather than fall back to
// $TMPDIR.
func TestBuildLocksBelongToTheUser(t *testing.T) {
	if role := os.Getenv("MLENV_TEST_ROLE"); role != "" {
		playRole(t, role)
		return
	}
	if os.Geteuid() != 0 {
		enginetest.Missing(t, "root (to add two users and run as them)")
	}
	for _, u := range []string{victim, attacker} {
		if _, err := user.Lookup(u); err != nil {
			if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", u).CombinedOutput(); err != nil {
				t.Fatalf("useradd %s: %v\n%s", u, err, out)
			}
		}
	}
	shared, err := os.MkdirTemp("", "mlenv-shared-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o777|os.ModeSticky)
	bin := filepath.Join(shared, "runner.test")
	copyExecutable(t, os.Args[0], bin)
	target := filepath.Join(shared, "victim-wrote-this")

	as(t, attacker, shared, "plant", target).mustRun(t)
	if _, err := os.Lstat(target); err == nil {
		t.Fatal("planting created the target: the test proves nothing")
	}
	as(t, victim, shared, "take", "").mustRun(t)
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the victim's build lock created %s through the attacker's link", target)
	}
	as(t, attacker, shared, "intrude", "").mustRun(t)
	as(t, victim, shared, "wait", "").mustRun(t)
	as(t, victim, shared, "nohome", "").mustRun(t)
}

type roleCmd struct{ *exec.Cmd }

func (c roleCmd) mustRun(t *testing.T) {
	t.Helper()
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(c.Args[:3], " "), err, out)
	}
}

// as runs this test binary as user, in role.
func as(t *testing.T, name, tmp, role, target string) roleCmd {
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("runuser", "-u", name, "--", "env", "-i", "PATH=/usr/bin:/bin", "HOME="+u.HomeDir, "TMPDIR="+tmp,
		"MLENV_TEST_ROLE="+role, "MLENV_TEST_TARGET="+target, filepath.Join(tmp, "runner.test"), "-test.run=^TestBuildLocksBelongToTheUser$", "-test.count=1")
	return roleCmd{cmd}
}

func copyExecutable(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// playRole is the child: what one user does.
func playRole(t *testing.T, role string) {
	ctx := context.Background()
	switch role {
	case "plant": // the attacker, in the shared $TMPDIR and the old lock dir
		old := filepath.Join(os.TempDir(), "mlenv-locks")
		os.MkdirAll(old, 0o777)
		os.Chmod(old, 0o777|os.ModeSticky)
		must(t, os.Symlink(os.Getenv("MLENV_TEST_TARGET"), filepath.Join(old, "env-"+lockKey+".lock")))
		must(t, syscall.Mkfifo(filepath.Join(os.TempDir(), "mlenv-fifo"), 0o666))
		must(t, os.MkdirAll(filepath.Join(os.TempDir(), "mlenv", "files"), 0o777))
	case "take": // the victim builds: at once, in their own directory
		done := make(chan error, 1)
		go func() {
			unlock, err := runner.BuildMutex(ctx, lockKey, nil)
			if err == nil {
				unlock()
			}
			done <- err
		}()
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("the build lock hangs")
		}
		dir, err := userdir.Runtime()
		must(t, err)
		home, _ := os.UserHomeDir()
		if !strings.HasPrefix(dir, home+"/") {
			t.Errorf("build locks in %s, not under the user's home %s", dir, home)
		}
		files, err := userdir.Cache("files")
		must(t, err)
		if strings.HasPrefix(files, os.TempDir()) {
			t.Errorf("the download cache %s is in the shared $TMPDIR", files)
		}
	case "intrude": // the attacker cannot reach the victim's locks
		victimHome := "/home/" + victim
		path := filepath.Join(victimHome, ".cache", "mlenv", "locks", "env-"+lockKey+".lock")
		if err := os.Remove(path); !errors.Is(err, os.ErrPermission) {
			t.Errorf("removing the victim's lock file: %v, want permission denied", err)
		}
		if err := os.Symlink("/etc/passwd", path+".x"); !errors.Is(err, os.ErrPermission) {
			t.Errorf("planting in the victim's lock dir: %v, want permission denied", err)
		}
	case "wait": // a second build waits, says for whom, and a signal ends it
		unlock, err := runner.BuildMutex(ctx, lockKey, nil)
		must(t, err)
		defer unlock()
		wctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
		told := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			u, err := runner.BuildMutex(wctx, lockKey, func(s string) { told <- s })
			if err == nil {
				u()
			}
			done <- err
		}()
		var said string
		select {
		case said = <-told:
		case <-time.After(5 * time.Second):
			t.Fatal("a build waiting on another said nothing")
		}
		if !strings.Contains(said, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(said, lockKey) {
			t.Errorf("the wait says %q, want the holder's pid %d and the environment", said, os.Getpid())
		}
		sent := time.Now()
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case err := <-done:
			if err == nil || time.Since(sent) > time.Second {
				t.Errorf("after SIGTERM: %v in %v, want the wait ended within a second", err, time.Since(sent))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("SIGTERM did not end the wait")
		}
	case "nohome":
		os.Unsetenv("HOME")
		if _, err := runner.BuildMutex(ctx, lockKey, nil); !errors.Is(err, userdir.ErrNoHome) {
			t.Errorf("without HOME: %v, want ErrNoHome", err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
