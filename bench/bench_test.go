// Package bench measures mlenv against the plain-docker workflow on the
// real engine and registry. Run it with bench/run, which prints a table of
// medians and ratios; it is not part of `go test ./...` (no test here, only
// benchmarks).
package bench

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/internal/registrytest"
)

// runs is how many times each side of a comparison runs (MLENV_BENCH_RUNS).
func runs(def int) int {
	if n, err := strconv.Atoi(os.Getenv("MLENV_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return def
}

type fixture struct {
	bin     string // the mlenv binary
	dir     string // a locked project with 20 packages
	image   string // the base image, by digest
	index   *pypitest.Index
	reqFile string // the same 20 requirements, for the seed workflow
}

var (
	fixOnce sync.Once
	fix     fixture
)

// setup builds mlenv, pushes the python image, serves 20 wheels and locks
// a project that installs them.
func setup(b *testing.B) *fixture {
	fixOnce.Do(func() {
		enginetest.Engine(b)
		host := enginetest.Registry(b)
		ref := enginetest.Push(b, enginetest.PythonImage(b), host+"/mlenv-bench/python:bookworm")
		var wheels []pypitest.Wheel
		var reqs []string
		for i := 1; i <= 20; i++ {
			w := pypitest.Wheel{Name: fmt.Sprintf("pkg%02d", i), Version: "1.0"}
			if i > 1 {
				w.Requires = []string{fmt.Sprintf("pkg%02d", i-1)}
			}
			wheels = append(wheels, w)
			reqs = append(reqs, w.Name+"==1.0")
		}
		fix.index = pypitest.New(keep{b}, wheels...)
		dir, err := os.MkdirTemp("", "mlenv-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fix.dir = dir
		fix.bin = filepath.Join(dir, "mlenv-bin")
		if out, err := exec.Command("go", "build", "-o", fix.bin, "../cmd/mlenv").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
		fix.reqFile = filepath.Join(dir, "requirements.txt")
		os.WriteFile(fix.reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "mlenv.toml"), []byte(fmt.Sprintf(
			"[image]\nref = %q\n[pip]\nrequirements = \"requirements.txt\"\nindex-url = %q\n[run]\ngpus = \"none\"\npip-cache = \"mlenv-bench-cache\"\n", ref, fix.index.URL)), 0o644)
		mustRun(b, fix.bin, "--file", filepath.Join(dir, "mlenv.toml"), "lock")
		d, err := remote.Head(mustRef(b, ref))
		if err != nil {
			b.Fatal(err)
		}
		fix.image = mustRef(b, ref).Context().Digest(d.Digest.String()).String()
	})
	return &fix
}

type keep struct{ testing.TB }

func (keep) Cleanup(func()) {}

func mustRef(b testing.TB, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func mustRun(b testing.TB, argv ...string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return time.Since(start)
}

func (f *fixture) mlenv(args ...string) []string {
	return append([]string{f.bin, "--file", filepath.Join(f.dir, "mlenv.toml")}, args...)
}

// compare runs a and b alternately n times and returns their medians.
func compare(tb testing.TB, n int, a, b []string) (time.Duration, time.Duration) {
	var ta, tbs []time.Duration
	for i := 0; i < n; i++ {
		ta = append(ta, mustRun(tb, a...))
		tbs = append(tbs, mustRun(tb, b...))
	}
	return median(ta), median(tbs)
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// row prints one line of the table bench/run shows.
func row(b *testing.B, what, aName string, a time.Duration, bName string, bd time.Duration, goal string) {
	ratio := float64(a) / float64(bd)
	fmt.Printf("| %s | %s | %s | %s | %s | %.2f | %s |\n", what, aName, ms(a), bName, ms(bd), ratio, goal)
	b.ReportMetric(float64(a.Milliseconds()), "a-ms")
	b.ReportMetric(float64(bd.Milliseconds()), "b-ms")
	b.ReportMetric(ratio, "ratio")
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// BenchmarkWarmStart: a warm `mlenv run -- true` (the environment is a
// cached image) against `docker run --rm IMAGE true` of the base image.
// Goal: within 10%.
func BenchmarkWarmStart(b *testing.B) {
	f := setup(b)
	mustRun(b, f.mlenv("run", "--", "true")...) // build the environment
	for i := 0; i < b.N; i++ {
		m, d := compare(b, runs(15), f.mlenv("run", "--", "true"), []string{"docker", "run", "--rm", f.image, "true"})
		goal := "≤ 1.10"
		if float64(m) > 1.1*float64(d) {
			goal += " MISSED"
		}
		row(b, "warm start, 20 packages", "mlenv run -- true", m, "docker run --rm IMAGE true", d, goal)
	}
}

// BenchmarkSeedWorkflow: the seed's `docker run … bash -c 'pip install
// --cache-dir … -r requirements.txt && python …'` with a warm pip-cache
// volume, each run, against a warm `mlenv run`.
func BenchmarkSeedWorkflow(b *testing.B) {
	f := setup(b)
	reqDir := filepath.Dir(f.reqFile)
	seed := []string{"docker", "run", "--rm", "--network", "host", "-v", "mlenv-bench-seed-cache:/pip_cache", "-v", reqDir + ":/req:ro", f.image,
		"bash", "-c", "pip install --quiet --break-system-packages --trusted-host 127.0.0.1 --index-url " + f.index.URL + " --cache-dir /pip_cache -r /req/requirements.txt && python3 -c 'import pkg20'"}
	mustRun(b, seed...) // warm the seed's cache
	mustRun(b, f.mlenv("run", "--", "true")...)
	for i := 0; i < b.N; i++ {
		m, s := compare(b, runs(7), f.mlenv("run", "--", "python3", "-c", "import pkg20"), seed)
		row(b, "seed workflow, warm pip cache", "mlenv run (warm)", m, "docker run … pip install && python", s, "lower is better")
	}
}

// BenchmarkColdBuild: the first `mlenv run` after a lock (the environment
// is built) with an empty and with a warm download cache.
func BenchmarkColdBuild(b *testing.B) {
	f := setup(b)
	mustRun(b, f.mlenv("run", "--", "true")...) // warm the download cache
	for i := 0; i < b.N; i++ {
		var empty, warm []time.Duration
		for j := 0; j < runs(3); j++ {
			clearEnvs(b, "")
			cache, _ := os.MkdirTemp("", "mlenv-bench-cache-")
			cmd := exec.Command(f.mlenv("run", "--", "true")[0], f.mlenv("run", "--", "true")[1:]...)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("cold run: %v\n%s", err, out)
			}
			empty = append(empty, time.Since(start))
			os.RemoveAll(cache)
			clearEnvs(b, "")
			warm = append(warm, mustRun(b, f.mlenv("run", "--", "true")...))
		}
		row(b, "cold environment build, 20 packages", "empty download cache", median(empty), "warm download cache", median(warm), "warm < empty")
	}
}

// BenchmarkFreshLock: `mlenv lock --check` and `mlenv lock` on a fresh lock
// do no network work; against `true`.
func BenchmarkFreshLock(b *testing.B) {
	f := setup(b)
	truePath, _ := exec.LookPath("true")
	for i := 0; i < b.N; i++ {
		c, t := compare(b, runs(20), f.mlenv("lock", "--check"), []string{truePath})
		row(b, "lock --check, fresh", "mlenv lock --check", c, "true", t, "no network")
		l, t := compare(b, runs(20), f.mlenv("lock"), []string{truePath})
		row(b, "lock, fresh", "mlenv lock", l, "true", t, "no network")
	}
}

var (
	tagsOnce sync.Once
	tagsHost string
)

// bigRepository pushes one small image under 2,000 nvidia/cuda tags.
func bigRepository(b *testing.B) string {
	tagsOnce.Do(func() {
		tagsHost = enginetest.Registry(b)
		r := registrytest.Remote(b, tagsHost)
		first := "11.0.0-runtime-ubuntu22.04"
		r.Push("nvidia/cuda", first, registrytest.Image{}.Build(b, "bench"))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for m := 0; m < 40; m++ {
			for p := 0; p < 50; p++ {
				if m == 0 && p == 0 {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func(tag string) {
					defer wg.Done()
					defer func() { <-sem }()
					r.Tag("nvidia/cuda", first, tag)
				}(fmt.Sprintf("11.%d.%d-runtime-ubuntu22.04", m, p))
			}
		}
		wg.Wait()
	})
	return tagsHost
}

// BenchmarkLock2000Tags: `mlenv lock --upgrade` against a repository of
// 2,000 tags, with and without 20 ms added to every request, counting the
// requests against the fewest possible, and timed against skopeo
// list-tags + skopeo inspect of the chosen tag.
func BenchmarkLock2000Tags(b *testing.B) {
	f := setup(b)
	upstream := bigRepository(b)
	for i := 0; i < b.N; i++ {
		for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
			proxy := registrytest.NewFaultProxy(b, upstream)
			delay := func(w http.ResponseWriter, r *http.Request, up http.Handler) bool {
				time.Sleep(latency)
				return false
			}
			dir, _ := os.MkdirTemp("", "mlenv-bench-lock-")
			spec := fmt.Sprintf("[image]\nfamily = \"cuda\"\nversion = \"~11.39\"\nregistry = %q\n", proxy.Host)
			os.WriteFile(filepath.Join(dir, "mlenv.toml"), []byte(spec), 0o644)
			lock := []string{f.bin, "--file", filepath.Join(dir, "mlenv.toml"), "lock", "--upgrade"}
			var mt, st []time.Duration
			var requests string
			for j := 0; j < runs(5); j++ {
				os.Remove(filepath.Join(dir, "mlenv.lock"))
				proxy.Inject(delay)
				mt = append(mt, mustRun(b, lock...))
				requests = fmt.Sprintf("ping %d, tag pages %d, manifests %d, blobs %d", proxy.Count("ping"), proxy.Count("tags"), proxy.Count("manifest"), proxy.Count("blob"))
				st = append(st, mustRun(b, "skopeo", "list-tags", "--tls-verify=false", "docker://"+proxy.Host+"/nvidia/cuda")+
					mustRun(b, "skopeo", "inspect", "--tls-verify=false", "docker://"+proxy.Host+"/nvidia/cuda:11.39.49-runtime-ubuntu22.04"))
			}
			row(b, fmt.Sprintf("lock, 2,000 tags, +%v a request", latency), "mlenv lock --upgrade", median(mt), "skopeo list-tags + inspect", median(st),
				"requests: "+requests+" (fewest: ping 1, the registry's tag pages, manifest 1, blob 1; mlenv adds a HEAD of the tag, free of Docker Hub's pull limit, to fetch the manifest by verified digest)")
			os.RemoveAll(dir)
		}
	}
}
