package envimage

import (
	"reflect"
	"testing"
)

func TestParseSimplePage(t *testing.T) {
	page := `<!DOCTYPE html><html><body>
<a href="../../files/a-1.0-py3-none-any.whl#sha256=aa">a-1.0-py3-none-any.whl</a><br/>
<a href="https://files.example/a-1.1.tar.gz" data-yanked="broken &amp; unsafe">a-1.1.tar.gz</a>
<A HREF='/a-1.2-py3-none-any.whl' data-requires-python="&gt;=3.8" data-yanked>a-1.2-py3-none-any.whl</A>
<a name="no-href">x</a>
</body></html>`
	got := parseSimplePage("https://idx.example/simple/a/", page)
	want := []IndexFile{
		{URL: "https://idx.example/files/a-1.0-py3-none-any.whl", Filename: "a-1.0-py3-none-any.whl", SHA256: "sha256:aa"},
		{URL: "https://files.example/a-1.1.tar.gz", Filename: "a-1.1.tar.gz", Yanked: true, Reason: "broken & unsafe"},
		{URL: "https://idx.example/a-1.2-py3-none-any.whl", Filename: "a-1.2-py3-none-any.whl", Yanked: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
}
