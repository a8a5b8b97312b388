package resolve

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/lock"
)

// TestVerifyFiles: verify sees each locked file upstream: listed and
// served holds; removed is file-gone, replaced file-changed (fail);
// yanked is a warning with its reason.
func TestVerifyFiles(t *testing.T) {
	wheels := []pypitest.Wheel{{Name: "alpha", Version: "1.0"}, {Name: "beta", Version: "1.0"}, {Name: "gamma", Version: "1.0"}, {Name: "delta", Version: "1.0"}}
	idx := pypitest.New(t, wheels...)
	l := &lock.Lock{}
	for _, w := range wheels {
		l.Packages = append(l.Packages, lock.Package{Name: w.Name, Version: w.Version, Index: idx.URL,
			URL: strings.TrimSuffix(idx.URL, "/simple") + "/files/" + w.Filename(), Hashes: []string{"sha256:" + idx.SHA256(w.Filename())}})
	}
	check := func() map[string]Check {
		rep := &VerifyReport{}
		verifyFiles(context.Background(), http.DefaultClient, l, rep)
		out := map[string]Check{}
		for _, c := range rep.Checks {
			out[c.Name] = c
		}
		return out
	}
	if got := check(); len(got) != 1 || got["locked files"].Detail != "4 of 4 on their indexes" {
		t.Fatalf("all files there: %+v", got)
	}
	idx.Remove(wheels[1].Filename())
	idx.Yank(wheels[2].Filename(), "broken metadata")
	idx.Add(wheels[3].Filename(), []byte("another file under the same name"))
	got := check()
	for file, want := range map[string][2]string{
		"file beta-1.0-py3-none-any.whl":  {"fail", CodeFileGone},
		"file gamma-1.0-py3-none-any.whl": {"warn", CodeFileYanked},
		"file delta-1.0-py3-none-any.whl": {"fail", CodeFileChanged},
	} {
		if c := got[file]; c.Status != want[0] || c.Code != want[1] {
			t.Errorf("%s: %+v, want %s [%s]", file, c, want[0], want[1])
		}
	}
	if !strings.Contains(got["file gamma-1.0-py3-none-any.whl"].Detail, "broken metadata") {
		t.Errorf("the yank's reason is not said: %+v", got["file gamma-1.0-py3-none-any.whl"])
	}
	if got["locked files"].Detail != "1 of 4 on their indexes" {
		t.Errorf("the summary: %+v", got["locked files"])
	}
}

// BenchmarkVerifyFiles: a 100-package lock on an index 20 ms away checks
// in about the time of a few requests (one page and one HEAD per file,
// fileJobs at a time), not of 200 one after the other. Reported as
// multiples of one request's time.
func BenchmarkVerifyFiles(b *testing.B) {
	const latency = 20 * time.Millisecond
	var wheels []pypitest.Wheel
	for i := range 100 {
		wheels = append(wheels, pypitest.Wheel{Name: fmt.Sprintf("pkg%03d", i), Version: "1.0"})
	}
	idx := pypitest.New(b, wheels...)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		idx.ServeHTTP(w, r)
	}))
	defer slow.Close()
	l := &lock.Lock{}
	for _, w := range wheels {
		l.Packages = append(l.Packages, lock.Package{Name: w.Name, Version: w.Version, Index: slow.URL + "/simple",
			URL: slow.URL + "/files/" + w.Filename(), Hashes: []string{"sha256:" + idx.SHA256(w.Filename())}})
	}
	b.ResetTimer()
	for range b.N {
		rep := &VerifyReport{}
		verifyFiles(context.Background(), http.DefaultClient, l, rep)
		if len(rep.Checks) != 1 || rep.Checks[0].Detail != "100 of 100 on their indexes" {
			b.Fatalf("%+v", rep.Checks)
		}
	}
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(latency), "requests-of-time")
}
