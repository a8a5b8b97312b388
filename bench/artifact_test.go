package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// The realistic set: 30 wheels of about 1 GB in all, as ML stacks are
// (a few huge native libraries, many small ones), with console scripts
// and .data directories. The bytes are pseudo-random (incompressible, as
// native code nearly is) from a fixed seed.
const (
	bigWheels    = 30
	bigTotalMiB  = 1024
	oldCommit    = "4214c22" // the last commit that built environments with docker commit
	bigCacheName = "mlenv-bench-big-cache"
)

type bigFixture struct {
	dir      string // locked project
	oldDir   string // the same project, locked by the old mlenv (whose reader refuses the new fields)
	old      string // mlenv built from oldCommit
	exported string // `mlenv export dockerfile` output
	index    *pypitest.Index
	envTag   string
}

var (
	bigOnce sync.Once
	big     bigFixture
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// bigSet is the wheels: sizes fall off geometrically from about 400 MiB.
func bigSet() []pypitest.Wheel {
	var ws []pypitest.Wheel
	left := bigTotalMiB << 20
	for i := 0; i < bigWheels; i++ {
		size := left / 3
		if i == bigWheels-1 || size < 1<<20 {
			size = max(left/(bigWheels-i), 64<<10)
		}
		left -= size
		name := fmt.Sprintf("big%02d", i)
		ws = append(ws, pypitest.Wheel{Name: name, Version: "1.0",
			Scripts: map[string]string{name + "-cli": name + ".cli:main"},
			Files: []pypitest.File{
				{Name: name + "/_native.so", Data: randomBytes(uint64(i+1), size)},
				{Name: name + "/cli.py", Data: []byte("def main():\n    print('ok')\n")},
				{Name: name + "-1.0.data/data/share/" + name + "/LICENSE", Data: []byte("MIT\n")},
				{Name: name + "-1.0.data/scripts/" + name + "-tool", Data: []byte("#!python\nprint('tool')\n")},
			}})
	}
	return ws
}

func setupBig(b *testing.B) *bigFixture {
	f := setup(b)
	bigOnce.Do(func() {
		ref := enginetest.Push(b, enginetest.PythonImage(b), enginetest.Registry(b)+"/mlenv-bench/python:bookworm")
		big.index = pypitest.New(keep{b}, bigSet()...)
		dir, err := os.MkdirTemp("", "mlenv-bench-big-")
		if err != nil {
			b.Fatal(err)
		}
		big.dir = dir
		var names []string
		for i := 0; i < bigWheels; i++ {
			names = append(names, fmt.Sprintf("%q", fmt.Sprintf("big%02d", i)))
		}
		os.WriteFile(filepath.Join(dir, "mlenv.toml"), []byte(fmt.Sprintf(
			"[image]\nref = %q\n[pip]\npackages = [%s]\nindex-url = %q\n[run]\ngpus = \"none\"\npip-cache = %q\n",
			ref, strings.Join(names, ", "), big.index.URL, bigCacheName)), 0o644)
		mustRun(b, f.bin, "--file", filepath.Join(dir, "mlenv.toml"), "lock")
		big.exported = filepath.Join(dir, "export")
		mustRun(b, f.bin, "--file", filepath.Join(dir, "mlenv.toml"), "export", "dockerfile", "-o", big.exported)
		big.old = buildOld(b, dir)
		big.oldDir = filepath.Join(dir, "old")
		os.MkdirAll(big.oldDir, 0o755)
		toml, _ := os.ReadFile(filepath.Join(dir, "mlenv.toml"))
		os.WriteFile(filepath.Join(big.oldDir, "mlenv.toml"), toml, 0o644)
		mustRun(b, big.old, "--file", filepath.Join(big.oldDir, "mlenv.toml"), "lock")
	})
	return &big
}

// buildOld builds mlenv as of oldCommit (git archive into a directory).
func buildOld(b *testing.B, dir string) string {
	src := filepath.Join(dir, "old-src")
	os.MkdirAll(src, 0o755)
	archive := exec.Command("sh", "-c", "git -C .. archive "+oldCommit+" | tar -x -C "+src)
	if out, err := archive.CombinedOutput(); err != nil {
		b.Fatalf("git archive %s: %v\n%s", oldCommit, err, out)
	}
	bin := filepath.Join(dir, "mlenv-old")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mlenv")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the old mlenv: %v\n%s", err, out)
	}
	return bin
}

func (f *bigFixture) file() string { return filepath.Join(f.dir, "mlenv.toml") }

// clearEnvs removes every environment image mlenv made on the engine at
// host ("" is the shared one), so the next run builds.
func clearEnvs(b *testing.B, host string) {
	args := []string{}
	if host != "" {
		args = append(args, "-H", host)
	}
	out, _ := exec.Command("docker", append(args, "images", "-q", "--filter", "label=dev.mlenv.env")...).Output()
	for _, id := range strings.Fields(string(out)) {
		exec.Command("docker", append(args, "rmi", "-f", id)...).Run()
	}
}

// BenchmarkColdBuild1GB: the first run of a fresh lock of the 1 GB set,
// files already downloaded (mlenv's download cache, the old path's and
// docker build's pip): mlenv's image built from the wheels against the
// old docker-commit path and against `docker build` of the exported
// Dockerfile. Goal: at most 1.0× docker build; where the time goes, for
// both (mlenv's phases; BuildKit's steps).
func BenchmarkColdBuild1GB(b *testing.B) {
	f := setup(b)
	g := setupBig(b)
	mustRun(b, f.bin, "--file", g.file(), "run", "--", "true") // warm the downloads
	oldFile := filepath.Join(g.oldDir, "mlenv.toml")
	mustRun(b, g.old, "--file", oldFile, "run", "--", "true") // warm the old path's pip cache
	for i := 0; i < b.N; i++ {
		var mine, old, build []time.Duration
		var mineSteps, buildSteps string
		for j := 0; j < runs(3); j++ {
			clearEnvs(b, "")
			d, out := timed(b, nil, f.bin, "--file", g.file(), "run", "--", "true")
			mine, mineSteps = append(mine, d), phaseLines(out)
			clearEnvs(b, "")
			old = append(old, mustRun(b, g.old, "--file", oldFile, "run", "--rebuild", "--", "true"))
			clearEnvs(b, "")
			d, steps := timedSteps(b, "docker", "build", "--no-cache", "--network", "host", "-t", "mlenv-bench-big:docker", g.exported)
			build, buildSteps = append(build, d), steps
			exec.Command("docker", "rmi", "mlenv-bench-big:docker").Run()
		}
		goal := "≤ 1.00"
		if median(mine) > median(build) {
			goal += " MISSED"
		}
		row(b, "cold build, 30 wheels, 1 GiB", "mlenv run (envimage)", median(mine), "docker build of the export", median(build), goal+"; mlenv: "+mineSteps+"; docker build: "+buildSteps)
		row(b, "cold build, 30 wheels, 1 GiB", "mlenv run (envimage)", median(mine), "old mlenv (docker commit)", median(old), "lower is better")
	}
}

// timed runs argv with env added and returns how long it took and its
// output.
func timed(b *testing.B, env []string, argv ...string) (time.Duration, string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return time.Since(start), string(out)
}

// phaseLines are mlenv's phase lines (each with its duration), joined.
func phaseLines(out string) string {
	var ps []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " in ") && strings.Contains(line, ": ") {
			ps = append(ps, strings.TrimSpace(line))
		}
	}
	return strings.Join(ps, ", ")
}

var stepRe = regexp.MustCompile(`^Step \d+/\d+ : (\S+)`)

// timedSteps runs docker build (its classic builder: this engine's CLI
// has no buildx) and times each Dockerfile step by when its output began;
// a step's time includes committing its layer.
func timedSteps(b *testing.B, argv ...string) (time.Duration, string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var names []string
	var starts []time.Time
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := stepRe.FindStringSubmatch(sc.Text()); m != nil {
			names, starts = append(names, m[1]), append(starts, time.Now())
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
	end := time.Now()
	starts = append(starts, end)
	var ps []string
	for i, n := range names {
		if d := starts[i+1].Sub(starts[i]); d >= 100*time.Millisecond {
			ps = append(ps, fmt.Sprintf("%s %.1fs", n, d.Seconds()))
		}
	}
	return end.Sub(start), strings.Join(ps, ", ")
}

// BenchmarkEnvCache1GB: another machine (a second engine, vfs) gets the
// 1 GB environment by pulling it from the env-cache against building it;
// the same on the shared engine (overlay2). Goal: pulling at most 0.5×
// building.
func BenchmarkEnvCache1GB(b *testing.B) {
	f := setup(b)
	g := setupBig(b)
	cache := enginetest.Registry(b) + "/mlenv-bench/envs"
	mustRun(b, f.bin, "--file", g.file(), "push", cache)
	other := enginetest.NewOtherMachine(b)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(f.bin, append([]string{"--file", g.file(), "run"}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+other.Host)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		return time.Since(start)
	}
	run("--", "true") // the base image, and warm downloads
	for i := 0; i < b.N; i++ {
		var pull, build []time.Duration
		for j := 0; j < runs(3); j++ {
			clearEnvs(b, other.Host)
			pull = append(pull, run("--env-cache", cache, "--", "true"))
			clearEnvs(b, other.Host)
			build = append(build, run("--", "true"))
		}
		goal := "≤ 0.50"
		if float64(median(pull)) > 0.5*float64(median(build)) {
			goal += " MISSED"
		}
		row(b, "other machine (vfs), 1 GiB", "mlenv run, pulled from env-cache", median(pull), "mlenv run, built", median(build), goal)
		pull, build = nil, nil
		for j := 0; j < runs(3); j++ {
			clearEnvs(b, "")
			pull = append(pull, mustRun(b, f.bin, "--file", g.file(), "run", "--env-cache", cache, "--", "true"))
			clearEnvs(b, "")
			build = append(build, mustRun(b, f.bin, "--file", g.file(), "run", "--", "true"))
		}
		goal = "≤ 0.50"
		if float64(median(pull)) > 0.5*float64(median(build)) {
			goal += " MISSED"
		}
		row(b, "shared engine (overlay2), 1 GiB", "mlenv run, pulled from env-cache", median(pull), "mlenv run, built", median(build), goal)
	}
}

// BenchmarkWarmStart1GB: a warm run of the 1 GB environment against
// `docker run --rm` of the same image. Goal: within 5%.
func BenchmarkWarmStart1GB(b *testing.B) {
	f := setup(b)
	g := setupBig(b)
	mustRun(b, f.bin, "--file", g.file(), "run", "--", "true")
	l, err := lock.ReadFile(filepath.Join(g.dir, "mlenv.lock"))
	if err != nil {
		b.Fatal(err)
	}
	img := l.Image.Platforms[0].EnvConfig
	for i := 0; i < b.N; i++ {
		m, d := compare(b, runs(15), []string{f.bin, "--file", g.file(), "run", "--", "true"}, []string{"docker", "run", "--rm", img, "true"})
		goal := "≤ 1.05"
		if float64(m) > 1.05*float64(d) {
			goal += " MISSED"
		}
		row(b, "warm start, 1 GiB environment", "mlenv run -- true", m, "docker run --rm ENV true", d, goal)
	}
}
