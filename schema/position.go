package schema

import (
	"bufio"
	"bytes"
	"strings"
)

// KeyLine finds the line on which a dotted key ("image.cuda", "run.env.X")
// is defined in TOML source, or the line of its closest defined parent. It
// is used only to position error messages, so it reads the common shapes of
// TOML (table headers, bare, quoted and dotted keys, inline tables) and
// returns 0 when it cannot tell.
func KeyLine(src []byte, key string) int {
	want := strings.Split(key, ".")
	best, bestLen := 0, 0
	var table []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var path []string
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "["):
			table = splitKey(strings.Trim(strings.SplitN(line, "]", 2)[0]+"]", "[] \t"))
			path = table
		default:
			k, rest, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			path = append(append([]string{}, table...), splitKey(k)...)
			path = append(path, inlineKeys(rest, want[min(len(path), len(want)):])...)
		}
		if m := matchLen(path, want); m > bestLen || (m == bestLen && m == len(path) && best == 0) {
			best, bestLen = n, m
		}
	}
	return best
}

// inlineKeys follows want into an inline table on the rest of a line.
func inlineKeys(rest string, want []string) []string {
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "{") || len(want) == 0 {
		return nil
	}
	for _, part := range strings.Split(strings.Trim(rest, "{} "), ",") {
		k, _, ok := strings.Cut(part, "=")
		if ok && strings.Join(splitKey(k), ".") == want[0] {
			return want[:1]
		}
	}
	return nil
}

// matchLen is how many leading parts of want path matches, or 0 when path
// is not a prefix of want.
func matchLen(path, want []string) int {
	if len(path) > len(want) || len(path) == 0 {
		return 0
	}
	for i := range path {
		if path[i] != want[i] {
			return 0
		}
	}
	return len(path)
}

func splitKey(k string) []string {
	var parts []string
	for _, p := range strings.Split(k, ".") {
		parts = append(parts, strings.Trim(strings.TrimSpace(p), `"'`))
	}
	return parts
}
