package enginefake

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Program is what a container's command does: it reads p's stdin,
// writes its output and returns the exit code.
type Program func(p *Proc) int

// Proc is a running container as its Program sees it.
type Proc struct {
	Argv   []string // entrypoint and command
	Env    []string
	Stdin  io.Reader // empty unless the run attached stdin
	Stdout io.Writer
	Stderr io.Writer
	// Signals receives each signal the engine is asked to send
	// ("SIGINT"); SIGKILL ends the container without the Program.
	Signals <-chan string
	// Files are the files copied into the container (CopyToContainer) and
	// those the Program writes for CopyFromContainer: path → content.
	Files map[string][]byte
	// Image is the container's image ID; the engine's FS(Image) is its
	// file system.
	Image string
}

// Container is a container the engine made: what it was created with,
// what happened to it.
type Container struct {
	ID       string
	Config   container.Config
	Host     container.HostConfig
	Platform string
	// Signals are the signals it was sent, in order.
	Signals []string
	// Removed says it was removed (auto-removed, or by a call).
	Removed bool

	imageID  string
	files    map[string][]byte
	started  bool
	exited   bool
	code     int
	stdin    io.Reader
	out      io.Writer // the attached stream
	outDone  chan struct{}
	sigs     chan string
	killed   chan struct{}
	exitCh   chan struct{}
	removeCh chan struct{}
	once     sync.Once
}

// Containers are every container made, removed ones included, in order.
func (e *Engine) Containers() []*Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Container
	for _, id := range sortedKeys(e.containers) {
		out = append(out, e.containers[id])
	}
	slices.SortFunc(out, func(a, b *Container) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Live are the containers not removed.
func (e *Engine) Live() []*Container {
	return slices.DeleteFunc(e.Containers(), func(c *Container) bool { return c.Removed })
}

// AddContainer puts a stopped container into the engine, with labels
// (one a killed mlenv left behind).
func (e *Engine) AddContainer(image string, labels map[string]string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.newContainer(container.Config{Image: image, Labels: labels}, container.HostConfig{}, "")
	c.imageID, _, _ = e.lookup(image)
	c.started, c.exited = true, true
	close(c.exitCh)
	return c.ID
}

func (e *Engine) newContainer(cfg container.Config, hc container.HostConfig, platform string) *Container {
	c := &Container{ID: e.nextID("c"), Config: cfg, Host: hc, Platform: platform, files: map[string][]byte{},
		outDone: make(chan struct{}), sigs: make(chan string, 8), killed: make(chan struct{}),
		exitCh: make(chan struct{}), removeCh: make(chan struct{})}
	e.containers[c.ID] = c
	return c
}

func (e *Engine) container(id string) (*Container, error) {
	c, ok := e.containers[id]
	if !ok || c.Removed {
		return nil, notFound("container: " + id)
	}
	return c, nil
}

// ContainerCreate makes a container of an image the engine has.
func (e *Engine) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	defer e.call("ContainerCreate")()
	id, _, ok := e.lookup(o.Config.Image)
	if !ok {
		return client.ContainerCreateResult{}, notFound("image: " + o.Config.Image)
	}
	platform := ""
	if o.Platform != nil {
		platform = o.Platform.OS + "/" + o.Platform.Architecture
	}
	hc := container.HostConfig{}
	if o.HostConfig != nil {
		hc = *o.HostConfig
	}
	if e.DropDeviceRequests {
		hc.DeviceRequests = nil
	}
	c := e.newContainer(*o.Config, hc, platform)
	c.imageID = id
	return client.ContainerCreateResult{ID: c.ID}, nil
}

// ContainerInspect is what the container was created with.
func (e *Engine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	defer e.call("ContainerInspect")()
	c, err := e.container(id)
	if err != nil {
		return client.ContainerInspectResult{}, err
	}
	hc := c.Host
	cfg := c.Config
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: c.ID, Image: c.imageID, Config: &cfg, HostConfig: &hc}}, nil
}

// ContainerAttach connects to the container's streams: what its Program
// writes comes back multiplexed (raw with a TTY); with stdin, what the
// caller writes is its stdin.
func (e *Engine) ContainerAttach(_ context.Context, id string, o client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	defer e.call("ContainerAttach")()
	c, err := e.container(id)
	if err != nil {
		return client.ContainerAttachResult{}, err
	}
	conn := newStreamConn()
	c.out = conn.outW
	if o.Stdin {
		c.stdin = conn.inR
	}
	return client.ContainerAttachResult{HijackedResponse: client.HijackedResponse{Conn: conn, Reader: bufio.NewReader(conn)}}, nil
}

// streamConn is the caller's end of an attach: it reads the container's
// output and writes its stdin, and CloseWrite ends the stdin alone, as
// the half-close of a real engine's connection does.
type streamConn struct {
	outR *io.PipeReader
	outW *io.PipeWriter
	inR  *io.PipeReader
	inW  *io.PipeWriter
}

func newStreamConn() *streamConn {
	c := &streamConn{}
	c.outR, c.outW = io.Pipe()
	c.inR, c.inW = io.Pipe()
	return c
}

func (c *streamConn) Read(b []byte) (int, error)  { return c.outR.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) { return c.inW.Write(b) }
func (c *streamConn) CloseWrite() error           { return c.inW.Close() }
func (c *streamConn) Close() error {
	c.inW.Close()
	return c.outR.Close()
}
func (c *streamConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "enginefake" }

// ContainerStart runs the container's Program; a command without one is
// docker's "executable file not found" error.
func (e *Engine) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	e.record("ContainerStart")
	e.mu.Lock()
	c, err := e.container(id)
	if err != nil {
		e.mu.Unlock()
		return client.ContainerStartResult{}, err
	}
	argv := append(slices.Clone(c.Config.Entrypoint), c.Config.Cmd...)
	prog := e.Programs[firstOr(argv, "")]
	if prog == nil {
		e.mu.Unlock()
		return client.ContainerStartResult{}, fmt.Errorf("failed to create task for container: OCI runtime create failed: exec: %q: executable file not found in $PATH: unknown", firstOr(argv, ""))
	}
	c.started = true
	p := &Proc{Argv: argv, Env: c.Config.Env, Stdin: orEmpty(c.stdin), Signals: c.sigs, Files: c.files, Image: c.imageID}
	stdout, stderr := io.Writer(io.Discard), io.Writer(io.Discard)
	if c.out != nil {
		stdout, stderr = frameWriter{c.out, stdcopy.Stdout}, frameWriter{c.out, stdcopy.Stderr}
		if c.Config.Tty {
			stdout, stderr = c.out, c.out
		}
	}
	p.Stdout, p.Stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	e.mu.Unlock()
	done := make(chan int, 1)
	go func() { done <- prog(p) }()
	go func() {
		code := 137
		select {
		case code = <-done:
		case <-c.killed:
		}
		e.exit(c, code)
	}()
	return client.ContainerStartResult{}, nil
}

func (e *Engine) exit(c *Container, code int) {
	e.mu.Lock()
	c.exited, c.code = true, code
	if c.out != nil {
		if cl, ok := c.out.(io.Closer); ok {
			cl.Close()
		}
	}
	auto := c.Host.AutoRemove
	e.mu.Unlock()
	close(c.exitCh)
	if auto {
		e.removeContainer(c)
	}
}

func (e *Engine) removeContainer(c *Container) {
	e.mu.Lock()
	c.Removed = true
	e.mu.Unlock()
	c.once.Do(func() { close(c.removeCh) })
}

// ContainerWait answers when the container exits (next-exit,
// not-running) or is removed (removed), with its exit code.
func (e *Engine) ContainerWait(ctx context.Context, id string, o client.ContainerWaitOptions) client.ContainerWaitResult {
	e.record("ContainerWait")
	res, errs := make(chan container.WaitResponse, 1), make(chan error, 1)
	e.mu.Lock()
	c, err := e.container(id)
	e.mu.Unlock()
	if err != nil {
		errs <- err
		return client.ContainerWaitResult{Result: res, Error: errs}
	}
	until := c.exitCh
	if o.Condition == container.WaitConditionRemoved {
		until = c.removeCh
	}
	go func() {
		select {
		case <-until:
			e.mu.Lock()
			code := c.code
			e.mu.Unlock()
			res <- container.WaitResponse{StatusCode: int64(code)}
		case <-ctx.Done():
			errs <- ctx.Err()
		}
	}()
	return client.ContainerWaitResult{Result: res, Error: errs}
}

// ContainerKill sends a signal; SIGKILL ends the container.
func (e *Engine) ContainerKill(_ context.Context, id string, o client.ContainerKillOptions) (client.ContainerKillResult, error) {
	defer e.call("ContainerKill")()
	c, err := e.container(id)
	if err != nil {
		return client.ContainerKillResult{}, err
	}
	c.Signals = append(c.Signals, o.Signal)
	if o.Signal == "SIGKILL" || o.Signal == "KILL" {
		select {
		case <-c.killed:
		default:
			close(c.killed)
		}
		return client.ContainerKillResult{}, nil
	}
	select {
	case c.sigs <- o.Signal:
	default:
	}
	return client.ContainerKillResult{}, nil
}

// ContainerResize does nothing but answer.
func (e *Engine) ContainerResize(context.Context, string, client.ContainerResizeOptions) (client.ContainerResizeResult, error) {
	e.record("ContainerResize")
	return client.ContainerResizeResult{}, nil
}

// ContainerRemove removes a container; a running one only with Force.
func (e *Engine) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	e.record("ContainerRemove")
	e.mu.Lock()
	c, err := e.container(id)
	if err == nil && c.started && !c.exited && !o.Force {
		err = conflict("container " + id + " is running: stop it first")
	}
	e.mu.Unlock()
	if err != nil {
		return client.ContainerRemoveResult{}, err
	}
	if c.started && !c.exited {
		e.ContainerKill(context.Background(), id, client.ContainerKillOptions{Signal: "SIGKILL"})
		<-c.exitCh
	}
	e.removeContainer(c)
	return client.ContainerRemoveResult{}, nil
}

// ContainerList lists containers (with All, stopped ones too) that have
// the filter's labels.
func (e *Engine) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	defer e.call("ContainerList")()
	var out client.ContainerListResult
	for _, id := range sortedKeys(e.containers) {
		c := e.containers[id]
		if c.Removed || (!o.All && (c.exited || !c.started)) || !matchLabels(o.Filters, c.Config.Labels) {
			continue
		}
		out.Items = append(out.Items, container.Summary{ID: c.ID, Image: c.Config.Image, ImageID: c.imageID, Labels: c.Config.Labels})
	}
	return out, nil
}

// CopyToContainer unpacks a tar into the container's files.
func (e *Engine) CopyToContainer(_ context.Context, id string, o client.CopyToContainerOptions) (client.CopyToContainerResult, error) {
	defer e.call("CopyToContainer")()
	c, err := e.container(id)
	if err != nil {
		return client.CopyToContainerResult{}, err
	}
	tr := tar.NewReader(o.Content)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return client.CopyToContainerResult{}, err
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			c.files[path.Join(o.DestinationPath, h.Name)] = b
		}
	}
	return client.CopyToContainerResult{}, nil
}

// CopyFromContainer is a tar of the container's files under the path,
// named from the path's last element as docker does.
func (e *Engine) CopyFromContainer(_ context.Context, id string, o client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	defer e.call("CopyFromContainer")()
	c, ok := e.containers[id]
	if !ok {
		return client.CopyFromContainerResult{}, notFound("container: " + id)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	base := path.Dir(o.SourcePath)
	n := 0
	for _, p := range sortedKeys(c.files) {
		if p == o.SourcePath || strings.HasPrefix(p, o.SourcePath+"/") {
			writeFile(tw, strings.TrimPrefix(p, base+"/"), c.files[p])
			n++
		}
	}
	tw.Close()
	if n == 0 {
		return client.CopyFromContainerResult{}, notFound("file or directory: " + o.SourcePath)
	}
	return client.CopyFromContainerResult{Content: io.NopCloser(&buf)}, nil
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

// lockedWriter serializes a Program's writes to one attached stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func matchLabels(f client.Filters, labels map[string]string) bool {
	for want := range f["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// frameWriter multiplexes a stream as the engine does without a TTY: a
// header (stream, 3 zero bytes, big-endian length) before each write.
type frameWriter struct {
	w      io.Writer
	stream stdcopy.StdType
}

func (f frameWriter) Write(b []byte) (int, error) {
	hdr := make([]byte, 8, 8+len(b))
	hdr[0] = byte(f.stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(b)))
	if _, err := f.w.Write(append(hdr, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
