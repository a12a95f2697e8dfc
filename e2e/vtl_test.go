package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// TestMappingTemplateSemantics checks the renderer where Velocity on the JVM, which API
// Gateway runs, and JavaScript differ: Java's String methods and regular expressions,
// commons-lang's escapeJavaScript, Java's number printing, API Gateway's $input and its
// overrides. Each case is a template API Gateway would render the same way.
func TestMappingTemplateSemantics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name, template, body string
		header               map[string]string
		want                 string
		wantStatus           int    // a responseOverride.status, 0 for none
		wantErr              string // part of the renderer's error
	}{
		{name: "matches is a whole-string match", template: `#set($s = "abc")$s.matches('b') $s.matches('a.c') $s.matches('^[a-c]{3}$')`, want: "false true true"},
		{name: "contains", template: `#set($s = "com.x#ExecutionAlreadyExists")$s.contains('AlreadyExists') $s.contains('Throttling')`, want: "true false"},
		{name: "replaceAll takes a regular expression", template: `#set($s = "a.b.c")$s.replaceAll('\.', '-') $s.replaceAll('(\w)\.(\w)', '$2$1')`, want: "a-b-c ba.c"},
		{name: "replaceAll: a backslash in the replacement quotes", template: `#set($s = "x")$s.replaceAll('x', '\$1\\')`, want: `$1\`},
		{name: "replace is literal and replaces all", template: `#set($s = "a.a.a")$s.replace('.', '')`, want: "aaa"},
		{name: "split drops trailing empty strings", template: `#set($s = "a,b,,")$s.split(',').size() $s.split(',')`, want: "2 [a, b]"},
		{name: "length and isEmpty are methods", template: `#set($s = "abc")$s.length() $s.isEmpty()`, want: "3 false"},
		{name: "a String method the harness lacks is an error", template: `#set($s = "abc")$s.codePointAt(0)`, wantErr: "codePointAt"},
		{name: "escapeJavaScript as commons-lang", template: `$util.escapeJavaScript($input.path('$.s'))`, body: `{"s": "it's \"q\" a/b \\ \n\t é 😀"}`,
			want: `it\'s \"q\" a\/b \\ \n\t \u00E9 \uD83D\uDE00`},
		{name: "urlEncode as java.net.URLEncoder", template: `$util.urlEncode("a b/é*~")`, want: "a+b%2F%C3%A9*%7E"},
		{name: "base64", template: `$util.base64Encode("hé") $util.base64Decode("aMOp")`, want: "aMOp hé"},
		{name: "parseJson", template: `#set($o = $util.parseJson('{"a": [1, {"b": "c"}]}'))$o.a[1].b $o.a.size()`, want: "c 2"},
		{name: "doubles print as Java prints them", template: `$input.path('$.d') $input.path('$.e') $input.path('$.i') $input.path('$.small')`, body: `{"d": 1.733037646123E9, "e": 80.0, "i": 80, "small": 1.5e-7}`,
			want: "1.733037646123E9 80.0 80 1.5E-7"},
		{name: "$input.json keeps numbers as sent", template: `$input.json('$')`, body: `{"x": 1.0, "y": [1e3, 2]}`, want: `{"x":1.0,"y":[1e3,2]}`},
		{name: "$input.json of an empty body", template: `$input.json('$')`, body: ``, want: `{}`},
		{name: "$input.path: objects print as Java maps", template: `$input.path('$.o')`, body: `{"o": {"a": 1, "b": [true, "x"]}}`, want: "{a=1, b=[true, x]}"},
		{name: "$input.params looks in headers", template: `$input.params('Idempotency-Key')|$input.params('Missing')|`, header: map[string]string{"Idempotency-Key": "k1"}, want: "k1||"},
		{name: "a reference to nothing renders as written", template: `$nothing.here() $!nothing`, want: "$nothing.here() "},
		{name: "responseOverride.status", template: `#set($context.responseOverride.status = 409)ok`, want: "ok", wantStatus: 409},
		{name: "an override set twice is an error (API Gateway: 5XX)", template: `#set($context.responseOverride.status = 409)#set($context.responseOverride.status = 429)`, wantErr: "overridden twice"},
		{name: "$context values", template: `$context.requestId $context.error.messageString`, want: `r-1 "Invalid request body"`},
	}
	for _, tt := range tests {
		res, err := h.vtl.render(ctx, vtlRequest{
			Template: tt.template, Body: tt.body, Params: vtlParams{Header: tt.header},
			Context: map[string]any{"requestId": "r-1", "error": map[string]any{"messageString": `"Invalid request body"`}},
		})
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got %q, %v; want an error mentioning %q", tt.name, res.Output, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case res.Output != tt.want:
			t.Errorf("%s:\n got %s\nwant %s", tt.name, res.Output, tt.want)
		case (res.Overrides.Status == nil) != (tt.wantStatus == 0) || (res.Overrides.Status != nil && *res.Overrides.Status != tt.wantStatus):
			t.Errorf("%s: status override %v, want %d", tt.name, res.Overrides.Status, tt.wantStatus)
		}
	}
}

// TestStartExecutionTemplateKeepsTheBody renders the synthesized POST /incident request
// template over bodies with what JSON-in-a-JSON-string gets wrong (quotes, backslashes,
// apostrophes, which escapeJavaScript escapes as \', control and non-ASCII characters):
// the StartExecution input must decode to the body that was sent, and the name must come
// from a valid Idempotency-Key or the request id.
func TestStartExecutionTemplateKeepsTheBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tpl := h.restAPIs[mainMachine].methods["POST /incident"].integration.templates["application/json"]
	for _, student := range []string{"plain", `it's`, `a\'b`, `"quoted"`, `back\slash\`, "tab\tnew\nline", "é 😀 \u2028", `</script>`, `\u0027`} {
		body, _ := json.Marshal(map[string]string{"StudentId": student})
		for _, key := range []string{"", "key_1-A", "bad key"} {
			params := vtlParams{Header: map[string]string{}}
			if key != "" {
				params.Header["Idempotency-Key"] = key
			}
			res, err := h.vtl.render(ctx, vtlRequest{Template: tpl, Body: string(body), Params: params, Context: map[string]any{"requestId": "req-1"}})
			if err != nil {
				t.Fatalf("StudentId %q: %v", student, err)
			}
			var start struct {
				Input, Name, StateMachineArn string
			}
			if err := json.Unmarshal([]byte(res.Output), &start); err != nil {
				t.Errorf("StudentId %q: the StartExecution request is not JSON (%v): %s", student, err, res.Output)
				continue
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(start.Input), &got); err != nil || got["StudentId"] != student {
				t.Errorf("StudentId %q: the execution input %q decodes to %q (%v)", student, start.Input, got["StudentId"], err)
			}
			wantName := map[string]string{"": "req-1", "key_1-A": "key_1-A", "bad key": "invalid Idempotency-Key"}[key]
			if start.Name != wantName || start.StateMachineArn != machineARN(mainMachine) {
				t.Errorf("key %q: name %q, machine %q; want %q, %q", key, start.Name, start.StateMachineArn, wantName, machineARN(mainMachine))
			}
		}
	}
}
