package registry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/resolve/registry"
	"github.com/mlenv/mlenv/resolve/resolvetest"
)

func TestTagsFollowEveryPage(t *testing.T) {
	reg := resolvetest.New(t)
	img := resolvetest.Image{}.Build(t, "x")
	reg.Push("nvidia/cuda", "12.1.1-runtime-ubuntu22.04", img)
	for i := 0; i < 30; i++ {
		reg.Tag("nvidia/cuda", "12.1.1-runtime-ubuntu22.04", fmt.Sprintf("12.1.%d-base-ubuntu22.04", i+2))
	}
	reg.Wrap = resolvetest.Paginate
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
