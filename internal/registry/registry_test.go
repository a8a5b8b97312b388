package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/internal/registrytest"
)

func TestTagsFollowEveryPage(t *testing.T) {
	reg := registrytest.New(t)
	img := registrytest.Image{}.Build(t, "x")
	reg.Push("nvidia/cuda", "12.1.1-runtime-ubuntu22.04", img)
	for i := 0; i < 30; i++ {
		reg.Tag("nvidia/cuda", "12.1.1-runtime-ubuntu22.04", fmt.Sprintf("12.1.%d-base-ubuntu22.04", i+2))
	}
	reg.Wrap = registrytest.Paginate
	r, err := registry.New(registry.Options{PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	reg.Requests()
	repo, _ := name.NewRepository(reg.Host + "/nvidia/cuda")
	tags, err := r.Tags(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 31 {
		t.Errorf("listed %d tags, want 31", len(tags))
	}
	pages := 0
	for _, q := range reg.Requests() {
		if strings.HasSuffix(q.Path, "/tags/list") {
			pages++
		}
	}
	if pages != 5 {
		t.Errorf("%d tag pages requested, want 5 (31 tags, 7 a page)", pages)
	}
}

// TestRetriesAreTold: each retry is told (host, reason, wait, attempt), so
// a terminal can say what mlenv waits for and when it gives up.
func TestRetriesAreTold(t *testing.T) {
	reg := registrytest.New(t)
	reg.Push("nvidia/cuda", "12.1.1-runtime-ubuntu22.04", registrytest.Image{}.Build(t, "x"))
	failures := 0
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.HasSuffix(r.URL.Path, "/tags/list") && failures < 2 {
			failures++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	}
	var told []string
	r, err := registry.New(registry.Options{Retry: registry.RetryPolicy{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond},
		OnRetry: func(host string, reason error, wait time.Duration, attempt, attempts int) {
			told = append(told, fmt.Sprintf("%s %v attempt %d of %d", host, reason, attempt, attempts))
		}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Host + "/nvidia/cuda")
	if _, err := r.Tags(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	want := []string{reg.Host + " 503 Service Unavailable attempt 2 of 5", reg.Host + " 503 Service Unavailable attempt 3 of 5"}
	if fmt.Sprint(told) != fmt.Sprint(want) {
		t.Errorf("told %q, want %q", told, want)
	}
}
