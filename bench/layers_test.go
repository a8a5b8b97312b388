package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// The layer benchmarks change the 1 GiB set as researchers do: add a
// small package, start a second project with the same big ones, upgrade
// one big package. Each project pins its versions (the index also has
// big05 2.0 and two small packages).
type layerFixture struct {
	index *pypitest.Index
	root  string
}

var (
	layerOnce sync.Once
	layerFix  layerFixture
)

func setupLayers(b *testing.B) *layerFixture {
	setup(b)
	layerOnce.Do(func() {
		ws := bigSet()
		for _, n := range []string{"tiny01", "tiny02"} {
			ws = append(ws, pypitest.Wheel{Name: n, Version: "1.0", Files: []pypitest.File{{Name: n + "/data.py", Data: randomBytes(7, 2<<10)}}})
		}
		up := bigSet()[5]
		up.Version = "2.0"
		up.Files = slices.Clone(up.Files)
		up.Files[0].Data = randomBytes(99, len(up.Files[0].Data))
		for i, f := range up.Files {
			up.Files[i].Name = strings.Replace(f.Name, "-1.0.data", "-2.0.data", 1)
		}
		layerFix.index = pypitest.New(keep{b}, append(ws, up)...)
		layerFix.index.Metadata = true // as PyPI: pip resolves from the metadata
		layerFix.root, _ = os.MkdirTemp("", "mlenv-bench-layers-")
	})
	return &layerFix
}

// project writes a project of the pinned packages and returns its
// mlenv.toml.
func (f *layerFixture) project(b *testing.B, name string, pins ...string) string {
	dir := filepath.Join(f.root, name)
	os.MkdirAll(dir, 0o755)
	ref := enginetest.Registry(b) + "/mlenv-bench/python:bookworm"
	var quoted []string
	for _, p := range pins {
		quoted = append(quoted, fmt.Sprintf("%q", p))
	}
	file := filepath.Join(dir, "mlenv.toml")
	os.WriteFile(file, []byte(fmt.Sprintf("[image]\nref = %q\n[pip]\npackages = [%s]\nindex-url = %q\n[run]\ngpus = \"none\"\npip-cache = %q\n",
		ref, strings.Join(quoted, ", "), f.index.URL, bigCacheName)), 0o644)
	os.Remove(filepath.Join(dir, "mlenv.lock"))
	return file
}

func bigPins(extra ...string) []string {
	var pins []string
	for i := 0; i < bigWheels; i++ {
		pins = append(pins, fmt.Sprintf("big%02d==1.0", i))
	}
	return append(pins, extra...)
}

// forgetLayers empties mlenv's cache of layer digests (the user's).
func forgetLayers(b *testing.B) {
	dir, err := envimage.DefaultLayerCache()
	if err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)
}

// lockAndColdRun locks the named project of pins and times its first run
// on an engine without any environment (the base image only).
func (g *layerFixture) lockAndColdRun(b *testing.B, f *fixture, name string, pins ...string) (string, time.Duration) {
	file := g.project(b, name, pins...)
	mustRun(b, f.bin, "--file", file, "lock")
	clearEnvs(b, "")
	return file, mustRun(b, f.bin, "--file", file, "run", "--", "true")
}

func envOf(b *testing.B, file string) string {
	l, err := lock.ReadFile(filepath.Join(filepath.Dir(file), "mlenv.lock"))
	if err != nil {
		b.Fatal(err)
	}
	return l.Image.Platforms[0].EnvConfig
}

// exportBuild builds the exported Dockerfile of file's lock with docker
// build (its cache warm from earlier builds) and returns how long it took.
func exportBuild(b *testing.B, f *fixture, file, tag string) time.Duration {
	out := filepath.Join(filepath.Dir(file), "export")
	os.RemoveAll(out)
	mustRun(b, f.bin, "--file", file, "export", "dockerfile", "-o", out)
	return mustRun(b, "docker", "build", "-q", "--network", "host", "-t", tag, out)
}

// layersSize is the engine's image layers on disk (docker system df).
func layersSize(b *testing.B) int64 {
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}}
	res, err := c.Get("http://docker/v1.41/system/df?type=image")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var df struct{ LayersSize int64 }
	if err := json.NewDecoder(res.Body).Decode(&df); err != nil {
		b.Fatal(err)
	}
	return df.LayersSize
}

func rowBytes(what, aName string, n int64, goal string) {
	fmt.Printf("| %s | %s | %s | | | | %s |\n", what, aName, humanBytes(n), goal)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func goal(ok bool, g string) string {
	if !ok {
		return g + " MISSED"
	}
	return g
}

// BenchmarkAddSmallPackage1GB: the first lock of the 1 GiB set (its files
// downloaded, no layer digest known) and its cold build (the engine has
// the base image only) against the same project with one 2 KiB package
// added: its lock, its rebuild (the engine has the old environment), and
// docker build of the exported Dockerfile after the same change.
func BenchmarkAddSmallPackage1GB(b *testing.B) {
	f := setup(b)
	g := setupLayers(b)
	for i := 0; i < b.N; i++ {
		var firstLock, addLock, cold, rebuild, docker []time.Duration
		for j := 0; j < runs(3); j++ {
			file := g.project(b, "add", bigPins()...)
			forgetLayers(b)
			firstLock = append(firstLock, mustRun(b, f.bin, "--file", file, "lock"))
			clearEnvs(b, "")
			cold = append(cold, mustRun(b, f.bin, "--file", file, "run", "--", "true"))
			exportBuild(b, f, file, "mlenv-bench-add:before")
			file = g.project(b, "add", bigPins("tiny01==1.0")...)
			addLock = append(addLock, mustRun(b, f.bin, "--file", file, "lock"))
			rebuild = append(rebuild, mustRun(b, f.bin, "--file", file, "run", "--", "true"))
			docker = append(docker, exportBuild(b, f, file, "mlenv-bench-add:after"))
			exec.Command("docker", "rmi", "mlenv-bench-add:before", "mlenv-bench-add:after").Run()
		}
		l, fl, c, r, d := median(addLock), median(firstLock), median(cold), median(rebuild), median(docker)
		row(b, "add a 2 KiB package to 1 GiB: lock", "mlenv lock", l, "the first lock", fl, goal(float64(l) <= 0.2*float64(fl), "≤ 0.20"))
		row(b, "add a 2 KiB package to 1 GiB: rebuild", "mlenv run (engine has the old env)", r, "cold build (mlenv run)", c, goal(float64(r) <= 0.1*float64(c), "≤ 0.10"))
		row(b, "add a 2 KiB package to 1 GiB: rebuild", "mlenv run (engine has the old env)", r, "docker build of the export after the change", d, goal(float64(r) <= 0.1*float64(d), "≤ 0.10"))
	}
}

// BenchmarkSecondProject1GB: a second project with the same big packages
// and one more small one, on an engine holding the first project's
// environment: the engine's layer store grows by its new layers only, and
// its first run costs a fraction of a cold build.
func BenchmarkSecondProject1GB(b *testing.B) {
	f := setup(b)
	g := setupLayers(b)
	for i := 0; i < b.N; i++ {
		var firstRun, cold []time.Duration
		var grew int64
		for j := 0; j < runs(3); j++ {
			_, c := g.lockAndColdRun(b, f, "one", bigPins()...)
			cold = append(cold, c)
			two := g.project(b, "two", bigPins("tiny02==1.0")...)
			mustRun(b, f.bin, "--file", two, "lock")
			before := layersSize(b)
			firstRun = append(firstRun, mustRun(b, f.bin, "--file", two, "run", "--", "true"))
			grew = max(grew, layersSize(b)-before)
		}
		r, c := median(firstRun), median(cold)
		rowBytes("second project, same big packages + one small: engine disk", "docker system df (layers), most grown", grew, goal(grew < 5<<20, "< 5 MB"))
		row(b, "second project, same big packages + one small: first run", "mlenv run", r, "cold build (mlenv run)", c, goal(float64(r) <= 0.1*float64(c), "≤ 0.10"))
	}
}

// BenchmarkChangeOnTheWire1GB: after adding a small package, the push to
// an env-cache holding the old environment, and the pull by another engine
// holding the old one (blob bytes through a counting proxy).
func BenchmarkChangeOnTheWire1GB(b *testing.B) {
	f := setup(b)
	g := setupLayers(b)
	meter := enginetest.NewMeter(b, enginetest.Registry(b))
	cache := meter.Host + "/mlenv-bench/wire"
	other := enginetest.NewOtherMachine(b)
	runOther := func(file string) time.Duration {
		cmd := exec.Command(f.bin, "--file", file, "run", "--env-cache", cache, "--", "true")
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+other.Host)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "Installing") {
			b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		return time.Since(start)
	}
	for i := 0; i < b.N; i++ {
		file := g.project(b, "wire", bigPins()...)
		mustRun(b, f.bin, "--file", file, "lock")
		mustRun(b, f.bin, "--file", file, "push", cache)
		first := meter.Uploaded()
		clearEnvs(b, other.Host)
		meter.Reset()
		full := runOther(file)
		fullPull := meter.Downloaded()
		file = g.project(b, "wire", bigPins("tiny01==1.0")...)
		mustRun(b, f.bin, "--file", file, "lock")
		meter.Reset()
		mustRun(b, f.bin, "--file", file, "push", cache)
		up := meter.Uploaded()
		thin := runOther(file)
		down := meter.Downloaded()
		rowBytes("push after adding a 2 KiB package", fmt.Sprintf("uploaded (first push: %s)", humanBytes(first)), up, goal(up < 1<<20, "< 1 MB"))
		rowBytes("pull after adding a 2 KiB package, engine holds the old env", fmt.Sprintf("downloaded (first pull: %s)", humanBytes(fullPull)), down, goal(down < 1<<20, "< 1 MB"))
		row(b, "pull after adding a 2 KiB package (other engine, vfs)", "mlenv run --env-cache", thin, "the first pull", full, "lower is better")
	}
}

// BenchmarkUpgradeBigPackage1GB: upgrading big05 (a 6 MiB layer, the 6th
// from the bottom) rebuilds its layer and loads the layers above it again
// (the engine stores a layer per stack beneath it); against a cold build.
func BenchmarkUpgradeBigPackage1GB(b *testing.B) {
	f := setup(b)
	g := setupLayers(b)
	for i := 0; i < b.N; i++ {
		var up, cold []time.Duration
		var above string
		for j := 0; j < runs(3); j++ {
			file, c := g.lockAndColdRun(b, f, "upgrade", bigPins()...)
			cold = append(cold, c)
			old := envOf(b, file)
			pins := bigPins()
			pins[5] = "big05==2.0"
			file = g.project(b, "upgrade", pins...)
			mustRun(b, f.bin, "--file", file, "lock")
			up = append(up, mustRun(b, f.bin, "--file", file, "run", "--", "true"))
			above = layersAbove(b, old, envOf(b, file))
		}
		row(b, "upgrade big05 (1 GiB set): rebuild", "mlenv run ("+above+")", median(up), "cold build (mlenv run)", median(cold), "reported")
	}
}

// layersAbove says how many of new's layers, and how many bytes, are at or
// above the first layer that differs from old's.
func layersAbove(b *testing.B, old, new string) string {
	ids := func(img string) []string {
		out, err := exec.Command("docker", "image", "inspect", "-f", "{{range .RootFS.Layers}}{{.}} {{end}}", img).Output()
		if err != nil {
			b.Fatal(err)
		}
		return strings.Fields(string(out))
	}
	o, n := ids(old), ids(new)
	k := 0
	for k < len(o) && k < len(n) && o[k] == n[k] {
		k++
	}
	hist, err := exec.Command("docker", "history", "--no-trunc", "--format", "{{.Size}}", new).Output()
	if err != nil {
		b.Fatal(err)
	}
	sizes := strings.Fields(string(hist)) // newest first
	var bytes int64
	for i := 0; i < len(n)-k && i < len(sizes); i++ {
		bytes += humanToBytes(sizes[i])
	}
	return fmt.Sprintf("%d of %d layers at or above the change, %s", len(n)-k, len(n), humanBytes(bytes))
}

var sizeRe = regexp.MustCompile(`^([0-9.]+)([kMG]?B)$`)

func humanToBytes(s string) int64 {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	var v float64
	fmt.Sscanf(m[1], "%g", &v)
	mult := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m[2]]
	return int64(v * mult)
}

// BenchmarkLayerOrder: what each common change rebuilds (the bytes of the
// layers at or above it) when the packages' layers are stacked largest
// lowest (PlanLayers) against name order, on the 1 GiB set's sizes.
func BenchmarkLayerOrder(b *testing.B) {
	sizes := map[string]int64{}
	for _, w := range bigSet() {
		sizes[w.Name] = int64(len(w.Files[0].Data))
	}
	cost := func(stack [][]string, changed string, sizes map[string]int64) int64 {
		var n int64
		hit := false
		for _, g := range stack {
			if slices.Contains(g, changed) {
				hit = true
			}
			if hit {
				for _, name := range g {
					n += sizes[name]
				}
			}
		}
		return n
	}
	byName := func(s map[string]int64) [][]string {
		var out [][]string
		for _, n := range slices.Sorted(func(y func(string) bool) {
			for k := range s {
				if !y(k) {
					return
				}
			}
		}) {
			out = append(out, []string{n})
		}
		return out
	}
	for i := 0; i < b.N; i++ {
		with := func(extra string, size int64) map[string]int64 {
			s := map[string]int64{}
			for k, v := range sizes {
				s[k] = v
			}
			if extra != "" {
				s[extra] = size
			}
			return s
		}
		add := with("aaa-small", 2<<10) // sorts first by name: the worst case for name order
		for _, c := range []struct {
			what, changed string
			s             map[string]int64
		}{
			{"add a 2 KiB package", "aaa-small", add},
			{"upgrade the smallest package", "big29", sizes},
			{"upgrade the largest package", "big00", sizes},
		} {
			planned := cost(envimage.PlanLayers(c.s, envimage.LayerBudget-5), c.changed, c.s)
			named := cost(byName(c.s), c.changed, c.s)
			fmt.Printf("| layer order: %s | largest lowest | %s | name order | %s | %.3f | bytes at or above the change |\n", c.what, humanBytes(planned), humanBytes(named), float64(planned)/float64(max(named, 1)))
		}
	}
}

// BenchmarkLayerCountStart: `docker run --rm IMAGE true` of the python
// image with N more (1 KiB) layers, against the image itself: how many
// layers an environment may have before every start pays for them
// (envimage.LayerBudget).
func BenchmarkLayerCountStart(b *testing.B) {
	setup(b)
	ref := enginetest.Registry(b) + "/mlenv-bench/python:bookworm"
	base, err := remote.Image(mustRef(b, ref))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		for _, n := range []int{30, 60, 68, 72, 100} {
			img := base
			for k := 0; k < n; k++ {
				l, err := random.Layer(1024, types.DockerLayer)
				if err != nil {
					b.Fatal(err)
				}
				if img, err = mutate.AppendLayers(img, l); err != nil {
					b.Fatal(err)
				}
			}
			tag := fmt.Sprintf("mlenv-bench-layers:%d", n)
			t, _ := name.NewTag(tag)
			file := filepath.Join(b.TempDir(), "image.tar")
			if err := tarball.WriteToFile(file, t, img); err != nil {
				b.Fatal(err)
			}
			mustRun(b, "docker", "load", "-q", "-i", file)
			layers, _ := img.Layers()
			m, d := compare(b, runs(9), []string{"docker", "run", "--rm", tag, "true"}, []string{"docker", "run", "--rm", ref, "true"})
			row(b, fmt.Sprintf("start with %d layers", len(layers)), "docker run --rm", m, fmt.Sprintf("the base image (%d)", len(layers)-n), d, "the budget stays below the step")
			exec.Command("docker", "rmi", tag).Run()
		}
	}
}
