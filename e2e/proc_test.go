package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tail keeps the last max bytes written to it, for failure messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// proc is a child process the harness started and must stop. It runs in its own process
// group so that stopping it also stops what it started (RIE starts the bootstrap), and
// the kernel kills it if the test binary dies first.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tail // stdout and stderr, interleaved
	done chan struct{}
	err  error // set before done closes
}

// startProc starts cmd. Unless the caller already set cmd.Stdout, both streams go to the
// tail; a caller that reads stdout itself sets it (e.g. to a pipe) before the call.
func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: newTail(16 << 10), done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(cmd.Args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() {
	if ok, _ := p.exited(); ok {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The group may outlive its leader (a child that ignored SIGTERM).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// report describes the process for a failure message: state and output tail.
func (p *proc) report() string {
	state := "running"
	if ok, err := p.exited(); ok {
		state = fmt.Sprintf("exited (%v)", err)
	}
	return fmt.Sprintf("--- %s: %s; last output:\n%s", p.name, state, indent(lastBytes(dropReports(p.out.String()), 3000)))
}

// dropReports removes the emulator's per-invoke REPORT lines, which say nothing a failure
// needs and crowd out the function's own log lines.
func dropReports(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "REPORT RequestId:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// hostOnly is the host part of a host:port address.
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (none)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freePorts returns n ports of 127.0.0.1 that were free a moment ago and that no earlier
// call returned, for programs that cannot report the port they picked themselves (the
// Lambda Runtime Interface Emulator). The listeners stay open until all n are found, and
// ports already handed out are skipped, so concurrent starts never share a port.
func freePorts(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, fmt.Errorf("find %d free ports: only %v after %d tries", n, ports, tries)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		if !portsUsed[port] {
			portsUsed[port] = true
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// listenLocal listens on a free port of 127.0.0.1 that freePorts has not handed out: the
// kernel may give a port freePorts found free (and closed) to the next listener, and a
// server there would answer in place of the emulator that was meant to bind it (seen
// once as a DynamoDB proxy answering a Lambda invoke). The port is marked as handed out.
func listenLocal() (net.Listener, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var reserved []net.Listener
	defer func() {
		for _, l := range reserved {
			l.Close()
		}
	}()
	for tries := 0; tries <= 100; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !portsUsed[port] {
			portsUsed[port] = true
			return l, nil
		}
		reserved = append(reserved, l) // held until a port is found, so it is not offered again
	}
	return nil, errors.New("listen on 127.0.0.1: every port offered was handed out already")
}

// waitTCP waits until something accepts connections on addr, or p exits, or the timeout.
func waitTCP(p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if ok, perr := p.exited(); ok {
			return fmt.Errorf("%s exited before listening on %s (%v)", p.name, addr, perr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after %s: %w", p.name, addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lineWriter calls fn with each complete line written to it; it also copies everything
// to a tail.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	fn   func(line []byte)
	copy io.Writer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.copy != nil {
		w.copy.Write(p)
	}
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := make([]byte, i)
		copy(line, w.buf.Next(i + 1)[:i])
		w.fn(line)
	}
}

// envWith returns the environment for a child process: os.Environ with extra set, so
// that PATH, HOME and the Go caches stay, and AWS settings of the developer's shell are
// overridden.
func envWith(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, override := extra[k]; override || strings.HasPrefix(k, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}
