package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// vtl renders API Gateway mapping templates through e2e/apigateway.mjs (velocityjs), one
// long-lived Node process for the whole harness; requests are multiplexed by id.
type vtl struct {
	proc *proc
	in   io.WriteCloser
	inMu sync.Mutex

	mu      sync.Mutex
	next    int64
	pending map[int64]chan vtlResult
}

// vtlParams are the method request's parameters, as $input.params() gives them.
type vtlParams struct {
	Path        map[string]string `json:"path"`
	Querystring map[string]string `json:"querystring"`
	Header      map[string]string `json:"header"`
}

// vtlRequest is one template to render with what API Gateway gives it.
type vtlRequest struct {
	ID             int64             `json:"id"`
	Template       string            `json:"template"`
	Body           string            `json:"body"`
	Params         vtlParams         `json:"params"`
	Context        map[string]any    `json:"context"`
	StageVariables map[string]string `json:"stageVariables"`
}

// vtlResult is the rendered template and the overrides it set.
type vtlResult struct {
	ID        int64  `json:"id"`
	Output    string `json:"output"`
	Error     string `json:"error"`
	Overrides struct {
		Status  *int              `json:"status"`
		Header  map[string]string `json:"header"`
		Request struct {
			Header      map[string]string `json:"header"`
			Querystring map[string]string `json:"querystring"`
			Path        map[string]string `json:"path"`
		} `json:"request"`
	} `json:"overrides"`
}

// startVTL starts the renderer with the project's Node 22 and waits for it to be ready.
func startVTL(ctx context.Context, root string, addProc func(*proc)) (*vtl, error) {
	v := &vtl{pending: map[int64]chan vtlResult{}}
	cmd := exec.Command(filepath.Join(root, "node_modules", ".bin", "node"), filepath.Join(root, "e2e", "apigateway.mjs"))
	cmd.Dir = root
	cmd.Env = envWith(nil)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start the mapping template renderer: %w", err)
	}
	v.in = in
	ready := make(chan struct{})
	var once sync.Once
	stderr := newTail(16 << 10)
	cmd.Stderr = stderr
	cmd.Stdout = &lineWriter{fn: func(line []byte) {
		var res vtlResult
		var hello struct {
			Ready bool `json:"ready"`
		}
		if json.Unmarshal(line, &hello) == nil && hello.Ready {
			once.Do(func() { close(ready) })
			return
		}
		if err := json.Unmarshal(line, &res); err != nil {
			fmt.Fprintf(stderr, "harness: unreadable renderer line %.200q: %v\n", line, err)
			return
		}
		v.mu.Lock()
		ch := v.pending[res.ID]
		delete(v.pending, res.ID)
		v.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}}
	p, err := startProc("mapping template renderer (velocityjs)", cmd)
	if err != nil {
		return nil, err
	}
	p.out = stderr
	v.proc = p
	addProc(p)
	select {
	case <-ready:
		return v, nil
	case <-p.done:
		return nil, fmt.Errorf("the mapping template renderer exited at start (%v): is velocityjs installed? run `bash scripts/install-tools.sh`\n%s", p.err, p.report())
	case <-time.After(30 * time.Second):
		return nil, errors.New("the mapping template renderer did not get ready in 30s")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// render renders one template. An error in the template (a failed method call, an
// override set twice) is a *templateError.
func (v *vtl) render(ctx context.Context, req vtlRequest) (vtlResult, error) {
	ch := make(chan vtlResult, 1)
	v.mu.Lock()
	v.next++
	req.ID = v.next
	v.pending[req.ID] = ch
	v.mu.Unlock()
	line, err := json.Marshal(req)
	if err != nil {
		return vtlResult{}, err
	}
	v.inMu.Lock()
	_, err = v.in.Write(append(line, '\n'))
	v.inMu.Unlock()
	if err != nil {
		return vtlResult{}, fmt.Errorf("send a template to the renderer: %w", err)
	}
	select {
	case res := <-ch:
		if res.Error != "" {
			return res, &templateError{res.Error}
		}
		return res, nil
	case <-v.proc.done:
		return vtlResult{}, fmt.Errorf("the mapping template renderer exited (%v)", v.proc.err)
	case <-ctx.Done():
		v.mu.Lock()
		delete(v.pending, req.ID)
		v.mu.Unlock()
		return vtlResult{}, ctx.Err()
	}
}

// templateError is a mapping template that failed to render.
type templateError struct{ msg string }

func (e *templateError) Error() string { return "mapping template: " + e.msg }
