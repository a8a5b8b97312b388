package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

var portURLRe = regexp.MustCompile(`Container port 8000 is at (http://127\.0\.0\.1:(\d+))`)

// TestRunPublishesPorts: a notebook-style server in the container, on
// Docker and on podman: `-d --name` starts it in the background and
// prints its name, `-p` (and [run] ports) publish on 127.0.0.1 and say
// the URL and the ssh -L that reaches it; the page is the project's; the
// engine removes the container once it is stopped.
func TestRunPublishesPorts(t *testing.T) {
	engines := map[string]string{"docker": "", "podman": enginetest.Podman(t, enginetest.Registry(t))}
	idx := pypitest.New(t, testWheels...)
	for engine, host := range engines {
		t.Run(engine, func(t *testing.T) {
			if host != "" {
				t.Setenv("DOCKER_HOST", host)
			}
			dir := lockedRunProject(t, idx, "[run]\ngpus = \"none\"\nports = [\"8000\"]\n")
			name := fmt.Sprintf("mlenv-test-web-%d", time.Now().UnixNano()%1e6)
			r := mlenv(t, dir, "run", "-d", "--name", name, "--", "python3", "-m", "http.server", "8000")
			m := portURLRe.FindStringSubmatch(r.stderr)
			if r.code != 0 || strings.TrimSpace(r.stdout) != name || m == nil || !strings.Contains(r.stderr, "ssh -L "+m[2]+":localhost:"+m[2]) {
				t.Fatalf("run -d --name: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
			}
			page := get(t, m[1]+"/hello.txt")
			if page != "hello from the project" {
				t.Errorf("the published server answered %q", page)
			}
			docker := engineCLI(host)
			if out, err := exec.Command(docker[0], append(docker[1:], "stop", name)...).CombinedOutput(); err != nil {
				t.Fatalf("stop %s: %v\n%s", name, err, out)
			}
			gone := false
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !gone; time.Sleep(200 * time.Millisecond) {
				gone = exec.Command(docker[0], append(docker[1:], "container", "inspect", name)...).Run() != nil
			}
			if !gone {
				t.Errorf("the stopped container %s was not removed", name)
			}
			print := mlenv(t, dir, "run", "--print", "-p", "0.0.0.0:9000:9000", "--name", name)
			if !strings.Contains(print.stdout, "-p 127.0.0.1::8000 -p 0.0.0.0:9000:9000 --name "+name) {
				t.Errorf("--print:\n%s", print.stdout)
			}
		})
	}
}

// engineCLI is the command line that talks to the engine at host
// (DOCKER_HOST; "" the default docker).
func engineCLI(host string) []string {
	if host == "" {
		return []string{"docker"}
	}
	return []string{"docker", "-H", host}
}

// get is the body of a GET, retried while the server starts.
func get(t *testing.T, url string) string {
	t.Helper()
	var err error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		var resp *http.Response
		if resp, err = http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
	}
	t.Fatalf("GET %s: %v", url, err)
	return ""
}
