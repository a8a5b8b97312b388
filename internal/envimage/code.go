package envimage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Code is a project's files as its project image holds them: the
// git-tracked files at HEAD (or, Dirty, as the working tree has them),
// under the run's workdir, normalized as the environment layer is, so
// that its digest is a function of the commit alone.
type Code struct {
	Commit string // HEAD's commit
	Dirty  bool   // the working tree's copies of the tracked files
	Files  int
	layer  *fileLayer
}

// DirtyError is a working tree whose tracked files differ from HEAD.
type DirtyError struct {
	Dir   string
	Files []string
}

func (e *DirtyError) Error() string {
	shown := e.Files
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(e.Files)-5))
	}
	return fmt.Sprintf("%s has uncommitted changes to tracked files (%s): the project image holds a commit, so commit them, or pass --dirty to use the working tree's copies (the image is then no commit's)", e.Dir, strings.Join(shown, ", "))
}

// ReadCode reads the project's code from the git repository holding dir,
// for a layer of media type mt with the files under workdir; digestOnly
// as for Build. Untracked and ignored files never go in; submodules are
// not followed.
func ReadCode(ctx context.Context, dir, workdir string, dirty bool, mt types.MediaType, digestOnly bool) (*Code, error) {
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("the project is not in a git repository (the project image holds a commit): %w", err)
	}
	top = strings.TrimSpace(top)
	commit, err := git(ctx, top, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return nil, fmt.Errorf("%s has no commit yet: commit the project first: %w", top, err)
	}
	c := &Code{Commit: strings.TrimSpace(commit), Dirty: dirty}
	status, err := git(ctx, top, "status", "--porcelain=v1", "-z", "--untracked-files=no")
	if err != nil {
		return nil, err
	}
	if changed := statusPaths(status); len(changed) > 0 && !dirty {
		return nil, &DirtyError{Dir: top, Files: changed}
	}
	t := tree{}
	root := strings.Trim(workdir, "/")
	if dirty {
		err = c.fromWorkingTree(ctx, t, top, root)
	} else {
		err = c.fromHead(ctx, t, top, root)
	}
	if err != nil {
		return nil, err
	}
	if c.layer, err = writeLayer(t, mt, digestOnly, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Close removes the layer's file.
func (c *Code) Close() error {
	if c.layer == nil || c.layer.path == "" {
		return nil
	}
	return os.Remove(c.layer.path)
}

// statusPaths are the paths of `git status --porcelain=v1 -z` output.
func statusPaths(out string) []string {
	var paths []string
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		paths = append(paths, f[3:])
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the rename's source follows
		}
	}
	return paths
}

// fromHead adds HEAD's tracked files, their contents read from git.
func (c *Code) fromHead(ctx context.Context, t tree, top, root string) error {
	out, err := git(ctx, top, "ls-tree", "-r", "-z", "--full-tree", "-l", "HEAD")
	if err != nil {
		return err
	}
	for _, rec := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		meta, name, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta) // mode type object size
		if !ok || len(f) != 4 || f[1] != "blob" {
			continue // a submodule (commit): not followed
		}
		if err := checkEntryName(name); err != nil {
			return fmt.Errorf("tracked file %q: %w", name, err)
		}
		object := f[2]
		dest := path.Join(root, name)
		switch f[0] {
		case "120000":
			target, err := git(ctx, top, "cat-file", "blob", object)
			if err != nil {
				return err
			}
			t.symlink(dest, target)
		default:
			size, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return fmt.Errorf("git ls-tree: %s: %w", name, err)
			}
			mode := int64(0o644)
			if f[0] == "100755" {
				mode = 0o755
			}
			t.add(&entry{name: dest, typ: tar.TypeReg, mode: mode, size: size, open: func() (io.ReadCloser, error) {
				return gitBlob(ctx, top, object)
			}})
		}
		c.Files++
	}
	return nil
}

// fromWorkingTree adds the tracked files as the working tree has them (a
// tracked file deleted there is left out).
func (c *Code) fromWorkingTree(ctx context.Context, t tree, top, root string) error {
	out, err := git(ctx, top, "ls-files", "-z", "--cached")
	if err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		if name == "" {
			continue
		}
		if err := checkEntryName(name); err != nil {
			return fmt.Errorf("tracked file %q: %w", name, err)
		}
		file := filepath.Join(top, filepath.FromSlash(name))
		fi, err := os.Lstat(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		dest := path.Join(root, name)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(file)
			if err != nil {
				return err
			}
			t.symlink(dest, target)
		case fi.Mode().IsRegular():
			mode := int64(0o644)
			if fi.Mode()&0o100 != 0 {
				mode = 0o755
			}
			t.add(&entry{name: dest, typ: tar.TypeReg, mode: mode, size: fi.Size(), open: func() (io.ReadCloser, error) { return os.Open(file) }})
		default:
			continue // a submodule's directory
		}
		c.Files++
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// gitBlob streams one blob's content.
func gitBlob(ctx context.Context, dir, object string) (io.ReadCloser, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "cat-file", "blob", object)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return blobReader{bufio.NewReader(out), cmd}, nil
}

type blobReader struct {
	io.Reader
	cmd *exec.Cmd
}

func (b blobReader) Close() error { return b.cmd.Wait() }
