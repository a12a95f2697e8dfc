package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The REST API front door runs the synthesized API: its resources and methods, request
// validators and models (JSON Schema draft-04, as API Gateway validates bodies), request
// templates, integrations, integration responses (selection patterns on the integration's
// status), method responses, response templates and header mappings, and gateway responses,
// all read from the Workflow template. Templates are rendered by velocityjs with API
// Gateway's $input, $util and $context (apigateway.mjs). An AWS integration calls the
// service for real, signed, on the harness's endpoint for it (Step Functions); a Lambda
// proxy integration invokes the function with the event API Gateway builds; a MOCK
// integration answers with its template's statusCode. What the front door does not model
// (authorizers, API keys, HTTP integrations, throttling) refuses to load rather than pass
// silently.

// restAPI is the synthesized REST API.
type restAPI struct {
	names   apiNames
	methods map[string]*apiMethod       // "POST /incident"
	gateway map[string]*gatewayResponse // by ResponseType
}

type apiMethod struct {
	httpMethod, path string
	// requestParameters: method.request.<where>.<name> -> required.
	requestParameters            map[string]bool
	validateBody, validateParams bool
	models                       map[string]*jsonschema.Schema // by content type
	integration                  *apiIntegration
	// methodResponses: status code -> the response parameters it declares.
	methodResponses map[string]map[string]bool
}

type apiIntegration struct {
	typ             string         // AWS, AWS_PROXY or MOCK
	service, action string         // AWS: states, StartExecution
	role            string         // AWS: the logical id of the role it assumes
	policy          []iamStatement // AWS: what that role allows (iam_test.go)
	function        string         // AWS_PROXY: the function's ARN
	permitted       bool           // AWS_PROXY: the function's resource policy lets this route invoke it
	passthrough     string
	templates       map[string]string // request templates by content type
	responses       []*integrationResponse
	timeout         time.Duration
}

type integrationResponse struct {
	status    string
	pattern   *regexp.Regexp // nil for the default response
	params    map[string]string
	templates map[string]string
}

type gatewayResponse struct {
	status    string // "" keeps the response type's default
	params    map[string]string
	templates map[string]string
}

// awsTargets are the AWS JSON protocol target prefixes of the services an AWS integration
// may call here, and the harness endpoint serving each.
var awsTargets = map[string]string{"states": "AWSStepFunctions"}

var (
	awsURI   = regexp.MustCompile(`^arn:aws:apigateway:[a-z0-9-]+:([a-z0-9-]+):action/([A-Za-z]+)$`)
	proxyURI = regexp.MustCompile(`^arn:aws:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(arn:[^/]+)/invocations$`)
)

// loadRestAPI reads the template's one REST API; res resolves its intrinsic functions
// (the state machine's and functions' ARNs) locally.
func loadRestAPI(t *cfnTemplate, names apiNames, res resolver) (*restAPI, error) {
	restID, _, err := t.only("AWS::ApiGateway::RestApi")
	if err != nil {
		return nil, err
	}
	api := &restAPI{names: names, methods: map[string]*apiMethod{}, gateway: map[string]*gatewayResponse{}}
	fail := func(id, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", t.path, id, fmt.Sprintf(format, args...))
	}

	var pathOf func(ref any, depth int) (string, error)
	pathOf = func(ref any, depth int) (string, error) {
		if getAttID(ref, "RootResourceId") == restID {
			return "", nil
		}
		m, _ := ref.(map[string]any)
		id, _ := m["Ref"].(string)
		r, ok := t.Resources[id]
		if !ok || r.Type != "AWS::ApiGateway::Resource" || depth > 20 {
			return "", fmt.Errorf("%v is not a resource of the API", ref)
		}
		parent, err := pathOf(r.Properties["ParentId"], depth+1)
		if err != nil {
			return "", err
		}
		part, _ := r.Properties["PathPart"].(string)
		return parent + "/" + part, nil
	}

	models := map[string]*jsonschema.Schema{}
	for _, id := range t.ofType("AWS::ApiGateway::Model") {
		props := t.Resources[id].Properties
		b, err := json.Marshal(props["Schema"])
		if err != nil {
			return nil, fail(id, "schema: %v", err)
		}
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft4
		name := "model-" + id + ".json"
		if err := c.AddResource(name, bytes.NewReader(b)); err != nil {
			return nil, fail(id, "schema: %v", err)
		}
		if models[id], err = c.Compile(name); err != nil {
			return nil, fail(id, "schema: %v", err)
		}
		if n, ok := props["Name"].(string); ok {
			models[n] = models[id]
		}
	}

	for _, id := range t.ofType("AWS::ApiGateway::Method") {
		props := t.Resources[id].Properties
		path, err := pathOf(props["ResourceId"], 0)
		if err != nil {
			return nil, fail(id, "%v", err)
		}
		if path == "" {
			path = "/"
		}
		m := &apiMethod{path: path, requestParameters: map[string]bool{}, models: map[string]*jsonschema.Schema{}, methodResponses: map[string]map[string]bool{}}
		m.httpMethod, _ = props["HttpMethod"].(string)
		if auth, _ := props["AuthorizationType"].(string); auth != "" && auth != "NONE" {
			return nil, fail(id, "%s %s has authorization %s, which the front door does not model", m.httpMethod, path, auth)
		}
		if key, _ := props["ApiKeyRequired"].(bool); key {
			return nil, fail(id, "%s %s requires an API key, which the front door does not model", m.httpMethod, path)
		}
		if params, ok := props["RequestParameters"].(map[string]any); ok {
			for k, v := range params {
				m.requestParameters[k], _ = v.(bool)
			}
		}
		if ref, ok := props["RequestValidatorId"].(map[string]any); ok {
			vid, _ := ref["Ref"].(string)
			v, ok := t.Resources[vid]
			if !ok || v.Type != "AWS::ApiGateway::RequestValidator" {
				return nil, fail(id, "RequestValidatorId %v is not a validator", ref)
			}
			m.validateBody, _ = v.Properties["ValidateRequestBody"].(bool)
			m.validateParams, _ = v.Properties["ValidateRequestParameters"].(bool)
		}
		if rm, ok := props["RequestModels"].(map[string]any); ok {
			for ct, ref := range rm {
				key, _ := ref.(string)
				if r, ok := ref.(map[string]any); ok {
					key, _ = r["Ref"].(string)
				}
				if models[key] == nil {
					return nil, fail(id, "request model %v for %s is not in the template", ref, ct)
				}
				m.models[strings.ToLower(ct)] = models[key]
			}
		}
		responses, _ := props["MethodResponses"].([]any)
		for _, r := range responses {
			rm, _ := r.(map[string]any)
			status, _ := rm["StatusCode"].(string)
			declared := map[string]bool{}
			params, _ := rm["ResponseParameters"].(map[string]any)
			for k := range params {
				declared[k] = true
			}
			m.methodResponses[status] = declared
		}
		integration, _ := props["Integration"].(map[string]any)
		if m.integration, err = loadIntegration(integration, res); err != nil {
			return nil, fail(id, "%s %s: %v", m.httpMethod, path, err)
		}
		switch in := m.integration; in.typ {
		case "AWS":
			if in.role = getAttID(integration["Credentials"], "Arn"); in.role == "" {
				return nil, fail(id, "%s %s: the AWS integration has no credentials role of the template", m.httpMethod, path)
			}
			if in.policy, err = rolePolicy(t, in.role, res); err != nil {
				return nil, err
			}
		case "AWS_PROXY":
			if in.permitted, err = lambdaPermitted(t, in.function, executeAPIARN(names, m.httpMethod, path), res); err != nil {
				return nil, err
			}
		}
		if m.integration.typ != "AWS_PROXY" {
			// What API Gateway refuses at deployment: a mapping to a method response that
			// is not declared.
			for _, ir := range m.integration.responses {
				declared, ok := m.methodResponses[ir.status]
				if !ok {
					return nil, fail(id, "%s %s: integration response %s has no method response", m.httpMethod, path, ir.status)
				}
				for k := range ir.params {
					if !declared[k] {
						return nil, fail(id, "%s %s: integration response %s maps %s, which its method response does not declare", m.httpMethod, path, ir.status, k)
					}
				}
			}
		}
		api.methods[m.httpMethod+" "+path] = m
	}

	for _, id := range t.ofType("AWS::ApiGateway::GatewayResponse") {
		props := t.Resources[id].Properties
		typ, _ := props["ResponseType"].(string)
		g := &gatewayResponse{params: stringMap(props["ResponseParameters"]), templates: stringMap(props["ResponseTemplates"])}
		g.status, _ = props["StatusCode"].(string)
		api.gateway[typ] = g
	}
	return api, nil
}

func loadIntegration(props map[string]any, res resolver) (*apiIntegration, error) {
	in := &apiIntegration{timeout: 29 * time.Second, templates: map[string]string{}}
	in.typ, _ = props["Type"].(string)
	in.passthrough, _ = props["PassthroughBehavior"].(string)
	if in.passthrough == "" {
		in.passthrough = "WHEN_NO_MATCH"
	}
	if ms, ok := props["TimeoutInMillis"].(float64); ok {
		in.timeout = time.Duration(ms) * time.Millisecond
	}
	if templates, ok := props["RequestTemplates"].(map[string]any); ok {
		for ct, v := range templates {
			s, err := res.resolve(v)
			if err != nil {
				return nil, fmt.Errorf("request template %s: %w", ct, err)
			}
			in.templates[strings.ToLower(ct)] = s
		}
	}
	var uri string
	if props["Uri"] != nil {
		var err error
		if uri, err = res.resolve(props["Uri"]); err != nil {
			return nil, fmt.Errorf("integration Uri: %w", err)
		}
	}
	switch in.typ {
	case "AWS":
		m := awsURI.FindStringSubmatch(uri)
		if m == nil || awsTargets[m[1]] == "" {
			return nil, fmt.Errorf("AWS integration %q: the front door calls only actions of %v", uri, sortedKeys(awsTargets))
		}
		in.service, in.action = m[1], m[2]
	case "AWS_PROXY":
		m := proxyURI.FindStringSubmatch(uri)
		if m == nil {
			return nil, fmt.Errorf("Lambda proxy integration %q is not a Lambda function's invocations path", uri)
		}
		in.function = m[1]
	case "MOCK":
	default:
		return nil, fmt.Errorf("integration type %q is not modeled by the front door", in.typ)
	}
	responses, _ := props["IntegrationResponses"].([]any)
	for _, r := range responses {
		rm, _ := r.(map[string]any)
		ir := &integrationResponse{params: stringMap(rm["ResponseParameters"]), templates: map[string]string{}}
		ir.status, _ = rm["StatusCode"].(string)
		for ct, tpl := range stringMap(rm["ResponseTemplates"]) {
			ir.templates[strings.ToLower(ct)] = tpl
		}
		if p, ok := rm["SelectionPattern"].(string); ok && p != "" {
			// The pattern must match the whole status code (Java's String.matches).
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				return nil, fmt.Errorf("selection pattern %q: %w", p, err)
			}
			ir.pattern = re
		}
		for k, v := range ir.params {
			if !strings.HasPrefix(k, "method.response.header.") || !(isLiteral(v) || strings.HasPrefix(v, "integration.response.header.")) {
				return nil, fmt.Errorf("response parameter %s = %s: the front door maps only literal values and integration response headers to method response headers", k, v)
			}
		}
		in.responses = append(in.responses, ir)
	}
	return in, nil
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}

// isLiteral tells a static mapping value ('value') from an expression.
func isLiteral(v string) bool { return len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' }

// --- serving ---

// frontDoor serves one REST API: the synthesized one, its StartExecution calls bound to
// one state machine (restAPIs).
type frontDoor struct {
	h   *harness
	api *restAPI
}

// apiCall is one request through the front door.
type apiCall struct {
	fd          *frontDoor
	w           *statusRecorder
	r           *http.Request
	id          string
	start       time.Time
	body        []byte
	method      *apiMethod
	stage       *stageCall
	integration bool // the integration was called
}

func (h *harness) frontDoor(machine string) http.Handler {
	return &frontDoor{h: h, api: h.restAPIs[machine]}
}

func (fd *frontDoor) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	c := &apiCall{fd: fd, r: r, id: uuid.NewString(), start: time.Now(), w: &statusRecorder{ResponseWriter: rw}}
	rw.Header().Set("x-amzn-RequestId", c.id)
	c.method = fd.api.methods[r.Method+" "+r.URL.Path]
	name, awsBlock := "", map[string]any(nil)
	if c.method != nil {
		name, awsBlock = fd.h.integrationSegment(c.method.integration)
	}
	c.stage = fd.h.beginStage(r, name, awsBlock, c.id)
	defer func() {
		c.stage.end(c.w.status)
		fd.h.mu.Lock()
		fd.h.requests[c.id] = c.integration
		fd.h.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(r.Context(), 35*time.Second)
	defer cancel()

	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20+1))
	if err != nil {
		c.gatewayError(ctx, "BAD_REQUEST_BODY", 400, "Invalid request body", "")
		return
	}
	if len(body) > 10<<20 {
		c.gatewayError(ctx, "REQUEST_TOO_LARGE", 413, "Request Too Long", "")
		return
	}
	c.body = body
	if c.method == nil {
		// API Gateway answers an unknown resource or method so, to not reveal which exist.
		c.gatewayError(ctx, "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", "")
		return
	}
	if !c.validate(ctx) {
		return
	}
	switch in := c.method.integration; in.typ {
	case "AWS_PROXY":
		c.lambdaProxy(ctx, in)
	case "AWS", "MOCK":
		c.nonProxy(ctx, in)
	}
}

// contentType is the request's media type; API Gateway takes a missing one as JSON.
func (c *apiCall) contentType() string {
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt == "" {
		return "application/json"
	}
	return strings.ToLower(mt)
}

// params are the method request's parameters as $input.params() gives them. Header names
// are as Go's server canonicalized them (Idempotency-Key), where API Gateway keeps the
// client's spelling.
func (c *apiCall) params() vtlParams {
	p := vtlParams{Path: map[string]string{}, Querystring: map[string]string{}, Header: map[string]string{}}
	for k, v := range c.r.URL.Query() {
		p.Querystring[k] = v[len(v)-1]
	}
	for k, v := range c.r.Header {
		p.Header[k] = strings.Join(v, ",")
	}
	return p
}

// vtlContext is $context for this request; errType adds $context.error.
func (c *apiCall) vtlContext(errType, message, validation string) map[string]any {
	api := c.fd.api.names
	path := c.r.URL.Path
	resourcePath := path
	if c.method != nil {
		resourcePath = c.method.path
	}
	ctx := map[string]any{
		"requestId":         c.id,
		"extendedRequestId": c.id,
		"apiId":             api.id,
		"stage":             api.stage,
		"resourcePath":      resourcePath,
		"httpMethod":        c.r.Method,
		"path":              "/" + api.stage + path,
		"protocol":          c.r.Proto,
		"requestTime":       c.start.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"requestTimeEpoch":  c.start.UnixMilli(),
		"accountId":         accountID,
		"domainName":        apiHost(api),
		"domainPrefix":      api.id,
		"identity":          map[string]any{"sourceIp": hostOnly(c.r.RemoteAddr), "userAgent": c.r.UserAgent()},
	}
	if c.stage.stage != nil {
		ctx["xrayTraceId"] = c.stage.stage.TraceID
	}
	if errType != "" {
		quoted, _ := json.Marshal(message)
		ctx["error"] = map[string]any{
			"responseType": errType, "message": message, "messageString": string(quoted), "validationErrorString": validation,
		}
	}
	return ctx
}

// validate runs the method's request validator: required parameters, then the body
// against the model for its content type.
func (c *apiCall) validate(ctx context.Context) bool {
	m := c.method
	if m.validateParams {
		var missing []string
		q := c.r.URL.Query()
		for k, required := range m.requestParameters {
			name, found := "", false
			switch {
			case strings.HasPrefix(k, "method.request.header."):
				name = strings.TrimPrefix(k, "method.request.header.")
				found = c.r.Header.Get(name) != ""
			case strings.HasPrefix(k, "method.request.querystring."):
				name = strings.TrimPrefix(k, "method.request.querystring.")
				found = q.Has(name)
			default:
				name, found = k, true
			}
			if required && !found {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			c.gatewayError(ctx, "BAD_REQUEST_PARAMETERS", 400, "Missing required request parameters: ["+strings.Join(missing, ", ")+"]", "")
			return false
		}
	}
	if !m.validateBody {
		return true
	}
	model := m.models[c.contentType()]
	if model == nil {
		return true
	}
	var doc any
	err := json.Unmarshal(c.body, &doc)
	if err == nil {
		err = model.Validate(doc)
	}
	if err != nil {
		detail := validationDetail(err)
		c.fd.h.logf("front door %s %s %s: invalid body: %s", c.r.Method, c.r.URL.Path, c.id, detail)
		c.gatewayError(ctx, "BAD_REQUEST_BODY", 400, "Invalid request body", "["+detail+"]")
		return false
	}
	return true
}

// requestTemplate picks the request template for the content type, or reports that the
// passthrough behavior refuses the request (415).
func (c *apiCall) requestTemplate(in *apiIntegration) (tpl string, passthrough, ok bool) {
	if t, found := in.templates[c.contentType()]; found {
		return t, false, true
	}
	switch {
	case in.passthrough == "WHEN_NO_MATCH", in.passthrough == "WHEN_NO_TEMPLATES" && len(in.templates) == 0:
		return "", true, true
	}
	return "", false, false
}

// nonProxy runs an AWS or MOCK integration: request template, the call, then the
// integration response its status selects.
func (c *apiCall) nonProxy(ctx context.Context, in *apiIntegration) {
	tpl, passthrough, ok := c.requestTemplate(in)
	if !ok {
		c.gatewayError(ctx, "UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type", "")
		return
	}
	payload := string(c.body)
	extraHeaders := map[string]string{}
	if !passthrough {
		res, err := c.fd.h.vtl.render(ctx, vtlRequest{Template: tpl, Body: string(c.body), Params: c.params(), Context: c.vtlContext("", "", "")})
		if err != nil {
			c.fd.h.logf("front door %s %s %s: request template: %v", c.r.Method, c.r.URL.Path, c.id, err)
			c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
			return
		}
		payload = res.Output
		extraHeaders = res.Overrides.Request.Header
		if len(res.Overrides.Request.Querystring)+len(res.Overrides.Request.Path) > 0 {
			c.fd.h.logf("front door %s: request template overrides the query string or path, which AWS integrations here do not use", c.id)
			c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
			return
		}
	}

	var status int
	var header http.Header
	var body []byte
	if in.typ == "MOCK" {
		// A mock integration answers with the statusCode its request template gives.
		m := regexp.MustCompile(`"?statusCode"?\s*:\s*(\d{3})`).FindStringSubmatch(payload)
		if m == nil {
			c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
			return
		}
		status, _ = strconv.Atoi(m[1])
		header = http.Header{}
	} else {
		var err error
		c.integration = true
		status, header, body, err = c.fd.h.callAWS(ctx, in, payload, extraHeaders, c.stage.header)
		if err != nil {
			c.fd.h.logf("front door %s: integration %s %s: %v", c.id, in.service, in.action, err)
			if errors.Is(err, context.DeadlineExceeded) {
				c.gatewayError(ctx, "INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", "")
			} else {
				c.gatewayError(ctx, "INTEGRATION_FAILURE", 504, "Internal server error", "")
			}
			return
		}
	}
	c.integrationResponse(ctx, in, status, header, body)
}

// integrationResponse maps the integration's answer through the integration response its
// status code selects: response template, header mappings, status (or the template's
// override), which must be a declared method response.
func (c *apiCall) integrationResponse(ctx context.Context, in *apiIntegration, status int, header http.Header, body []byte) {
	code := strconv.Itoa(status)
	var chosen *integrationResponse
	for _, ir := range in.responses {
		if ir.pattern != nil && ir.pattern.MatchString(code) {
			chosen = ir
			break
		}
	}
	if chosen == nil {
		for _, ir := range in.responses {
			if ir.pattern == nil {
				chosen = ir
			}
		}
	}
	if chosen == nil {
		c.fd.h.logf("front door %s: no integration response for status %s", c.id, code)
		c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
		return
	}
	out := body
	final := chosen.status
	headers := map[string]string{}
	if tpl, ok := chosen.templates["application/json"]; ok {
		res, err := c.fd.h.vtl.render(ctx, vtlRequest{Template: tpl, Body: string(body), Params: c.params(), Context: c.vtlContext("", "", "")})
		if err != nil {
			c.fd.h.logf("front door %s: response template for %s: %v", c.id, chosen.status, err)
			c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
			return
		}
		out = []byte(res.Output)
		if res.Overrides.Status != nil {
			final = strconv.Itoa(*res.Overrides.Status)
		}
		for k, v := range res.Overrides.Header {
			headers[k] = v
		}
	}
	declared, ok := c.method.methodResponses[final]
	if !ok {
		c.fd.h.logf("front door %s: status %s is not a method response of %s %s", c.id, final, c.method.httpMethod, c.method.path)
		c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
		return
	}
	for k, v := range chosen.params {
		name := strings.TrimPrefix(k, "method.response.header.")
		if !declared[k] {
			continue
		}
		if isLiteral(v) {
			headers[name] = v[1 : len(v)-1]
		} else if hv := header.Get(strings.TrimPrefix(v, "integration.response.header.")); hv != "" {
			headers[name] = hv
		}
	}
	c.write(final, headers, out)
}

func (c *apiCall) write(status string, headers map[string]string, body []byte) {
	code, _ := strconv.Atoi(status)
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	for k, v := range headers {
		h.Set(k, v)
	}
	c.w.WriteHeader(code)
	c.w.Write(body)
}

// gatewayError answers as API Gateway does for an error it raises itself: the gateway
// response of that type if the API customizes it, else its DEFAULT_4XX / DEFAULT_5XX, else
// the built-in {"message": ...}.
func (c *apiCall) gatewayError(ctx context.Context, typ string, status int, message, validation string) {
	g := c.fd.api.gateway[typ]
	if g == nil {
		if status < 500 {
			g = c.fd.api.gateway["DEFAULT_4XX"]
		} else {
			g = c.fd.api.gateway["DEFAULT_5XX"]
		}
	} else if g.status != "" {
		status, _ = strconv.Atoi(g.status)
	}
	quoted, _ := json.Marshal(message)
	body := []byte(`{"message":` + string(quoted) + `}`)
	headers := map[string]string{}
	if g != nil {
		for k, v := range g.params {
			name := strings.TrimPrefix(k, "gatewayresponse.header.")
			switch {
			case isLiteral(v):
				headers[name] = v[1 : len(v)-1]
			case strings.HasPrefix(v, "method.request.header."):
				if hv := c.r.Header.Get(strings.TrimPrefix(v, "method.request.header.")); hv != "" {
					headers[name] = hv
				}
			case strings.HasPrefix(v, "method.request.querystring."):
				if qv := c.r.URL.Query().Get(strings.TrimPrefix(v, "method.request.querystring.")); qv != "" {
					headers[name] = qv
				}
			}
		}
		if tpl, ok := g.templates["application/json"]; ok {
			res, err := c.fd.h.vtl.render(ctx, vtlRequest{Template: tpl, Body: string(c.body), Params: c.params(), Context: c.vtlContext(typ, message, validation)})
			if err != nil {
				c.fd.h.logf("front door %s: gateway response %s: %v", c.id, typ, err)
				c.write("500", nil, []byte(`{"message":"Internal server error"}`))
				return
			}
			body = []byte(res.Output)
		}
	}
	c.write(strconv.Itoa(status), headers, body)
}

// lambdaProxy invokes the function with the proxy event API Gateway builds and relays its
// proxy response; a failed or malformed answer is API Gateway's 502.
func (c *apiCall) lambdaProxy(ctx context.Context, in *apiIntegration) {
	f := c.fd.h.functions[in.function]
	if f == nil || !in.permitted {
		// What API Gateway logs: "Execution failed due to configuration error: Invalid
		// permissions on Lambda function".
		c.fd.h.logf("front door %s: no function %s, or its resource policy does not let this route invoke it", c.id, in.function)
		c.gatewayError(ctx, "API_CONFIGURATION_ERROR", 500, "Internal server error", "")
		return
	}
	api := c.fd.api.names
	// The headers API Gateway adds, as its edge sees the client.
	sent := c.r.Header.Clone()
	sent.Set("Host", apiHost(api))
	sent.Set("X-Forwarded-For", hostOnly(c.r.RemoteAddr))
	sent.Set("X-Forwarded-Proto", "https")
	sent.Set("X-Forwarded-Port", "443")
	if c.stage.header.root != "" {
		sent.Set("X-Amzn-Trace-Id", c.stage.header.String())
	}
	headers, multi := map[string]string{}, map[string][]string{}
	for k, v := range sent {
		headers[k] = v[len(v)-1]
		multi[k] = v
	}
	var query map[string]string
	var multiQuery map[string][]string
	for k, v := range c.r.URL.Query() {
		if query == nil {
			query, multiQuery = map[string]string{}, map[string][]string{}
		}
		query[k], multiQuery[k] = v[len(v)-1], v
	}
	ev := events.APIGatewayProxyRequest{
		Resource:                        c.method.path,
		Path:                            c.r.URL.Path,
		HTTPMethod:                      c.r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		Body:                            string(c.body),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         accountID,
			ResourcePath:      c.method.path,
			Stage:             api.stage,
			RequestID:         c.id,
			ExtendedRequestID: c.id,
			RequestTime:       c.start.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  c.start.UnixMilli(),
			HTTPMethod:        c.r.Method,
			APIID:             api.id,
			DomainName:        apiHost(api),
			DomainPrefix:      api.id,
			Protocol:          c.r.Proto,
			Path:              "/" + api.stage + c.r.URL.Path,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: hostOnly(c.r.RemoteAddr), UserAgent: c.r.UserAgent()},
		},
	}
	payload, _ := json.Marshal(ev)
	if len(c.body) == 0 {
		// API Gateway sends a request without a body as "body": null.
		var m map[string]any
		json.Unmarshal(payload, &m)
		m["body"] = nil
		payload, _ = json.Marshal(m)
	}
	ictx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	c.integration = true
	out, err := c.fd.h.invokeTraced(ictx, f, payload, c.stage.header, invocationTag{})
	if err != nil {
		c.fd.h.logf("front door %s: %s: %v", c.id, f.name, err)
		if errors.Is(ictx.Err(), context.DeadlineExceeded) {
			c.gatewayError(ctx, "INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", "")
		} else {
			c.gatewayError(ctx, "DEFAULT_5XX", 502, "Internal server error", "")
		}
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		c.fd.h.logf("front door %s: %s: malformed Lambda proxy response %.300s", c.id, f.name, out)
		c.gatewayError(ctx, "DEFAULT_5XX", 502, "Internal server error", "")
		return
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			c.gatewayError(ctx, "DEFAULT_5XX", 502, "Internal server error", "")
			return
		}
	}
	h := c.w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	c.w.WriteHeader(resp.StatusCode)
	c.w.Write(respBody)
}

// integrationSegment names the stage segment's integration subsegment as X-Ray does.
func (h *harness) integrationSegment(in *apiIntegration) (string, map[string]any) {
	switch in.typ {
	case "AWS":
		return strings.ToUpper(map[string]string{"states": "StepFunctions"}[in.service]), map[string]any{"operation": in.action, "region": region}
	case "AWS_PROXY":
		name := in.function[strings.LastIndex(in.function, ":")+1:]
		return "Lambda", map[string]any{"operation": "Invoke", "function_name": name, "region": region, "resource_names": []string{name}}
	}
	return "", nil
}

// callAWS sends a rendered integration request to the harness's endpoint for the service
// as API Gateway sends it to AWS: the AWS JSON protocol, SigV4-signed with the
// integration's role (dummy credentials here), the trace header passed on.
func (h *harness) callAWS(ctx context.Context, in *apiIntegration, payload string, extra map[string]string, trace traceHeader) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.sfnURL+"/", strings.NewReader(payload))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", awsTargets[in.service]+"."+in.action)
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	if trace.root != "" {
		req.Header.Set("X-Amzn-Trace-Id", trace.String())
	}
	sum := sha256.Sum256([]byte(payload))
	creds := aws.Credentials{AccessKeyID: accessKeyOf(in.role), SecretAccessKey: "e2e", SessionToken: "e2e"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), in.service, region, time.Now()); err != nil {
		return 0, nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, body, nil
}

// accessKeyOf is the access key id of the session API Gateway opens with the role: the
// harness's Step Functions endpoint knows the role, and so its policy, by it (rolesByKey).
func accessKeyOf(role string) string {
	sum := sha256.Sum256([]byte(role))
	return "ASIA" + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// validationDetail flattens a schema validation error into one line naming each field.
func validationDetail(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	var parts []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			where := e.InstanceLocation
			if where == "" {
				where = "/"
			}
			parts = append(parts, where+": "+e.Message)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(parts, "; ")
}
