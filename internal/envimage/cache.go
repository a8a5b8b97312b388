package envimage

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CacheUse is what the download cache holds.
type CacheUse struct {
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	Size  int64  `json:"size"`
}

// cachedFile is one downloaded locked file, with when a build last used
// it (its modification time: each use sets it).
type cachedFile struct {
	path string
	size int64
	used time.Time
}

func cachedFiles() (string, []cachedFile, error) {
	dir, err := DefaultCache()
	if err != nil {
		return "", nil, err
	}
	var out []cachedFile
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".download-") {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			out = append(out, cachedFile{path, fi.Size(), fi.ModTime()})
		}
		return nil
	})
	return dir, out, err
}

// Cached is the download cache's size.
func Cached() (CacheUse, error) {
	dir, files, err := cachedFiles()
	use := CacheUse{Dir: dir, Files: len(files)}
	for _, f := range files {
		use.Size += f.size
	}
	return use, err
}

// PruneCache removes the downloaded files no build used for unused (0:
// every file), or with dryRun only counts them; it returns what it
// removed.
func PruneCache(unused time.Duration, dryRun bool) (CacheUse, error) {
	dir, files, err := cachedFiles()
	out := CacheUse{Dir: dir}
	if err != nil {
		return out, err
	}
	for _, f := range files {
		if unused > 0 && time.Since(f.used) < unused {
			continue
		}
		if !dryRun {
			if err := os.Remove(f.path); err != nil {
				return out, err
			}
			os.Remove(filepath.Dir(f.path)) // its hash's directory, once empty
		}
		out.Files, out.Size = out.Files+1, out.Size+f.size
	}
	return out, nil
}
