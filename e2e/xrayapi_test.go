package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// The X-Ray API stand-in: BatchGetTraces, the one call Tracetest's X-Ray data store makes,
// served from the harness's trace store over HTTPS at xray.<region>.amazonaws.com (the rig's
// network namespace resolves that name to 127.0.0.1 and the server trusts the rig's CA
// through AWS_CA_BUNDLE). It checks the SigV4 signature as AWS does, so the server must
// really sign with the credentials of its default chain. It returns the trace as X-Ray
// does, with the segments X-Ray infers for downstream calls, and it can answer as X-Ray
// does for a role without xray:BatchGetTraces, as if the traces were never ingested, or as
// if the functions' documents were ingested late.

// xrayAPI serves BatchGetTraces from store.
type xrayAPI struct {
	store *traceStore

	mu     sync.Mutex
	keys   map[string]string // access key id -> secret key
	denied bool              // every caller lacks xray:BatchGetTraces
	hidden bool              // no trace was ever ingested
	lag    time.Duration     // how late the functions' documents show (traceStore.compiled)
	reads  map[string][]traceRead
}

// xrayRouter is the X-Ray endpoint of every rig: each rig's server signs with an access key
// of its own, and each request goes to the stand-in of the key that signed it (a key no rig
// has goes to the first, which rejects it as AWS does).
type xrayRouter struct {
	mu    sync.Mutex
	byKey map[string]*xrayAPI
	first *xrayAPI
}

// add routes the requests signed with accessKey to x.
func (rt *xrayRouter) add(accessKey string, x *xrayAPI) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.byKey == nil {
		rt.byKey = map[string]*xrayAPI{}
		rt.first = x
	}
	rt.byKey[accessKey] = x
}

func (rt *xrayRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/xray/aws4_request, ...
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	keyID, _, _ := strings.Cut(cred, "/")
	rt.mu.Lock()
	x := rt.byKey[keyID]
	if x == nil {
		x = rt.first
	}
	rt.mu.Unlock()
	x.ServeHTTP(w, r)
}

// traceRead is what one BatchGetTraces call returned for a trace.
type traceRead struct {
	at       time.Time
	spans    int // segments and subsegments returned: the spans Tracetest sees
	inferred int // inferred segments among them
	heldBack int // documents the functions sent that were not returned yet
}

func newXRayAPI(store *traceStore, accessKey, secretKey string) *xrayAPI {
	return &xrayAPI{store: store, keys: map[string]string{accessKey: secretKey}, reads: map[string][]traceRead{}}
}

// setLag holds back every document the functions sent until lag after the daemon received
// it, as if X-Ray's ingestion of them were that slow; 0 (the default) serves them at once.
func (x *xrayAPI) setLag(lag time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.lag = lag
}

// setDenied makes every call fail with AccessDeniedException, as for a task role without
// the permission.
func (x *xrayAPI) setDenied(v bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.denied = v
}

// setHidden makes every trace unknown, as when X-Ray never received the segments.
func (x *xrayAPI) setHidden(v bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.hidden = v
}

// timesQueried reports how many BatchGetTraces calls asked for traceID.
func (x *xrayAPI) timesQueried(traceID string) int {
	return len(x.readsOf(traceID))
}

// readsOf returns what each BatchGetTraces call asking for traceID returned, oldest first
// (a call while the trace was hidden or unknown returned 0 spans).
func (x *xrayAPI) readsOf(traceID string) []traceRead {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]traceRead(nil), x.reads[traceID]...)
}

type xrayError struct {
	status  int
	typ     string
	message string
}

func (x *xrayAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeXRayError(w, &xrayError{http.StatusBadRequest, "InvalidRequestException", err.Error()})
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/Traces" {
		writeXRayError(w, &xrayError{http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("the stand-in serves only BatchGetTraces (POST /Traces), not %s %s", r.Method, r.URL.Path)})
		return
	}
	if e := x.authorize(r, body); e != nil {
		x.store.notes("X-Ray API: %s: %s", e.typ, e.message)
		writeXRayError(w, e)
		return
	}
	var in struct {
		TraceIds  []string
		NextToken *string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeXRayError(w, &xrayError{http.StatusBadRequest, "InvalidRequestException", "request body is not JSON: " + err.Error()})
		return
	}
	if len(in.TraceIds) == 0 || len(in.TraceIds) > 5 {
		writeXRayError(w, &xrayError{http.StatusBadRequest, "InvalidRequestException",
			fmt.Sprintf("TraceIds must hold 1 to 5 trace ids, got %d", len(in.TraceIds))})
		return
	}
	type outSegment struct {
		Id       string
		Document string
	}
	type outTrace struct {
		Id            string
		Duration      float64
		LimitExceeded bool
		Segments      []outSegment
	}
	out := struct {
		Traces              []outTrace
		UnprocessedTraceIds []string
	}{Traces: []outTrace{}, UnprocessedTraceIds: []string{}}
	x.mu.Lock()
	hidden, lag := x.hidden, x.lag
	x.mu.Unlock()
	for _, id := range in.TraceIds {
		read := traceRead{at: time.Now()}
		trace, ok := x.store.compiled(id, lag)
		if !hidden {
			read.heldBack = trace.heldBack
		}
		if ok && !hidden {
			read.spans, read.inferred = trace.spans, trace.inferred
			t := outTrace{Id: id, Duration: trace.duration, Segments: []outSegment{}}
			for _, d := range trace.docs {
				var head docHead
				json.Unmarshal(d, &head)
				t.Segments = append(t.Segments, outSegment{Id: head.ID, Document: string(d)})
			}
			out.Traces = append(out.Traces, t)
		} // else X-Ray answers an unknown id with no trace, not with an error
		x.mu.Lock()
		x.reads[id] = append(x.reads[id], read)
		x.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", newSegmentID())
	json.NewEncoder(w).Encode(out)
}

func writeXRayError(w http.ResponseWriter, e *xrayError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", e.typ)
	w.Header().Set("x-amzn-RequestId", newSegmentID())
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"message": e.message})
}

// authorize verifies the request's Signature Version 4 as AWS does and applies the policy.
func (x *xrayAPI) authorize(r *http.Request, body []byte) *xrayError {
	deny := func(typ, format string, args ...any) *xrayError {
		return &xrayError{http.StatusForbidden, typ, fmt.Sprintf(format, args...)}
	}
	auth := r.Header.Get("Authorization")
	algorithm, rest, _ := strings.Cut(auth, " ")
	if algorithm != "AWS4-HMAC-SHA256" {
		return deny("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return deny("IncompleteSignatureException", "Authorization header has no valid Credential: %q", auth)
	}
	keyID, date, reg, service := scope[0], scope[1], scope[2], scope[3]
	x.mu.Lock()
	secret, known := x.keys[keyID]
	denied := x.denied
	x.mu.Unlock()
	switch {
	case !known:
		return deny("UnrecognizedClientException", "The security token included in the request is invalid.")
	case service != "xray" || reg != region:
		return deny("InvalidSignatureException", "Credential should be scoped to a valid region and service (xray, %s), not %s/%s", region, reg, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if t, err := time.Parse("20060102T150405Z", amzDate); err != nil || !strings.HasPrefix(amzDate, date) || time.Since(t).Abs() > 5*time.Minute {
		return deny("InvalidSignatureException", "Signature expired or X-Amz-Date %q invalid", amzDate)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var canonHeaders strings.Builder
	for _, name := range signed {
		value := r.Header.Get(name)
		if name == "host" {
			value = r.Host
		}
		canonHeaders.WriteString(name + ":" + strings.Join(strings.Fields(value), " ") + "\n")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = sha256Hex(body)
	}
	canonical := strings.Join([]string{
		r.Method,
		(&url.URL{Path: r.URL.Path}).EscapedPath(),
		canonicalQuery(r.URL.Query()),
		canonHeaders.String(),
		fields["SignedHeaders"],
		payload,
	}, "\n")
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", amzDate, strings.Join(scope[1:], "/"), sha256Hex([]byte(canonical))}, "\n")
	key := []byte("AWS4" + secret)
	for _, part := range []string{date, reg, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(key, toSign))), []byte(fields["Signature"])) {
		return deny("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	if denied {
		return &xrayError{http.StatusForbidden, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::%s:assumed-role/TracetestTaskRole/task is not authorized to perform: xray:BatchGetTraces because no identity-based policy allows the xray:BatchGetTraces action", accountID)}
	}
	return nil
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	sort.Strings(parts)
	return strings.ReplaceAll(strings.Join(parts, "&"), "+", "%20")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// --- the rig's certificate authority and its HTTPS edge ---

// localCA issues the certificates of the rig's AWS endpoints and of its Postgres server.
type localCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newLocalCA() (*localCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e rig local CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &localCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue returns a server certificate for hosts (DNS names or IP addresses), as PEM.
func (ca *localCA) issue(hosts ...string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// edge serves HTTPS on 127.0.0.1:443 for AWS endpoint host names, each with its own
// certificate and handler, as the rig's network namespace maps those names to 127.0.0.1.
type edge struct {
	srv   *http.Server
	hosts map[string]http.Handler
	certs map[string]*tls.Certificate
}

func startEdge(ca *localCA, hosts map[string]http.Handler, notes func(string, ...any)) (*edge, error) {
	e := &edge{hosts: hosts, certs: map[string]*tls.Certificate{}}
	for host := range hosts {
		certPEM, keyPEM, err := ca.issue(host)
		if err != nil {
			return nil, fmt.Errorf("certificate for %s: %w", host, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("certificate for %s: %w", host, err)
		}
		e.certs[host] = &cert
	}
	l, err := net.Listen("tcp", "127.0.0.1:443")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:443 (the rig's AWS endpoints): %w", err)
	}
	e.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		// Tracetest's connection test opens and closes a TCP connection to the X-Ray
		// endpoint; the failed handshakes that makes go to the harness's notes.
		ErrorLog: log.New(noteWriter(notes), "edge: ", 0),
		TLSConfig: &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := e.certs[hello.ServerName]; c != nil {
				return c, nil
			}
			return nil, fmt.Errorf("no endpoint %q here", hello.ServerName)
		}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := e.hosts[hostOnly(r.Host)]; h != nil {
				h.ServeHTTP(w, r)
				return
			}
			http.Error(w, "no endpoint "+r.Host, http.StatusNotFound)
		}),
	}
	go e.srv.ServeTLS(l, "", "")
	return e, nil
}

func (e *edge) stop() { e.srv.Close() }

// noteWriter turns log lines into harness notes.
type noteWriter func(string, ...any)

func (n noteWriter) Write(p []byte) (int, error) {
	n("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// readAllClose reads a response body for error messages.
func readAllClose(r io.ReadCloser) string {
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	return string(bytes.TrimSpace(b))
}
