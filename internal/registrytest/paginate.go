package registrytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Paginate is a Wrap that pages tag lists as Docker Hub and distribution
// do (n and last, a Link header to the next page), which the in-process
// registry does not.
func Paginate(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !strings.HasSuffix(r.URL.Path, "/tags/list") {
		next.ServeHTTP(w, r)
		return
	}
	full := r.Clone(r.Context())
	full.URL.RawQuery = ""
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, full)
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	sort.Strings(list.Tags)
	q := r.URL.Query()
	start := sort.SearchStrings(list.Tags, q.Get("last"))
	if last := q.Get("last"); last != "" && start < len(list.Tags) && list.Tags[start] == last {
		start++
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 {
		n = 100
	}
	end := min(start+n, len(list.Tags))
	page := list
	page.Tags = list.Tags[start:end]
	if end < len(list.Tags) {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {list.Tags[end-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(page)
}
