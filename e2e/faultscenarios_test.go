package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"
)

// The workflow under the faults production sends (issue 12), each injected at the narrowest
// boundary (faults_test.go), each scenario checking the final DynamoDB item and how the
// execution ended.

// newKey returns an Idempotency-Key, which names the execution: faults are armed on it
// before the request starts the execution.
func newKey(scenario string) string {
	return scenario + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

// openIncidentWithKey POSTs body to /incident with an Idempotency-Key and returns the
// execution named after it.
func openIncidentWithKey(t *testing.T, ctx context.Context, machine, key, body string) *execution {
	t.Helper()
	resp := postIncident(t, ctx, machine, key, body)
	var out struct {
		ExecutionArn string `json:"executionArn"`
	}
	if resp.Status != 200 || json.Unmarshal(resp.Body, &out) != nil || out.ExecutionArn != executionARN(machine, key) {
		fatal(t, "POST /incident", fmt.Errorf("status %d %s, want 200 and the execution %s", resp.Status, resp.Body, executionARN(machine, key)))
	}
	e := h.execution(key)
	if e == nil {
		fatal(t, "POST /incident", fmt.Errorf("no execution %s", key))
	}
	return e
}

func postIncident(t *testing.T, ctx context.Context, machine, key, body string) apiResponse {
	t.Helper()
	headers := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		headers["Idempotency-Key"] = key
	}
	resp, err := h.send(ctx, http.MethodPost, machine, "/incident", body, headers)
	if err != nil {
		fatal(t, "POST /incident", err)
	}
	return resp
}

// waitEnded waits for the execution to end, however it ends.
func waitEnded(t *testing.T, ctx context.Context, e *execution) {
	t.Helper()
	select {
	case <-e.done:
	case <-ctx.Done():
		fatal(t, "wait for the execution to end", fmt.Errorf("%w; path so far %v", ctx.Err(), e.path()))
	}
}

// retries returns, for each retry of state, the errors its retrier matched.
func (e *execution) retries(state string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Type == "StateRetried" && ev.State != nil && ev.State.Name == state && ev.Retry != nil {
			out = append(out, strings.Join(ev.Retry.Retrier.ErrorEquals, ","))
		}
	}
	return out
}

// failures returns the errors state failed with, in order.
func (e *execution) failures(state string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Type == "StateFailed" && ev.State != nil && ev.State.Name == state {
			out = append(out, ev.Error)
		}
	}
	return out
}

// rawItem reads an incident's item with the attributes the JSON never shows.
func rawItem(t *testing.T, ctx context.Context, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := h.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tableName),
		Key:            map[string]types.AttributeValue{"IncidentId": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		fatal(t, "read item "+id, fmt.Errorf("%v (found: %v)", err, out != nil && out.Item != nil))
	}
	return out.Item
}

// tokenDigests returns each exam's TaskTokenDigest, newest first.
func tokenDigests(item map[string]types.AttributeValue) []string {
	var out []string
	exams, _ := item["Exams"].(*types.AttributeValueMemberL)
	if exams == nil {
		return nil
	}
	for _, e := range exams.Value {
		m, _ := e.(*types.AttributeValueMemberM)
		d, _ := m.Value["TaskTokenDigest"].(*types.AttributeValueMemberS)
		if d == nil {
			out = append(out, "")
			continue
		}
		out = append(out, d.Value)
	}
	return out
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func decodeIncident(t *testing.T, step string, raw json.RawMessage) incident {
	t.Helper()
	var inc incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		fatal(t, step, fmt.Errorf("%s: %w", raw, err))
	}
	return inc
}

// hitOf waits for a fault to have replaced an invocation's answer.
func hitOf(t *testing.T, ctx context.Context, f *lambdaFault) faultHit {
	t.Helper()
	select {
	case hit := <-f.hit:
		return hit
	case <-ctx.Done():
		fatal(t, "fault "+f.at.String(), fmt.Errorf("never hit: %w", ctx.Err()))
	}
	return faultHit{}
}

// TestRetryAfterSuccessPassPath: every task of the pass path runs, then Lambda answers
// Lambda.ServiceException as if the answer were lost, and the state machine retries it.
// Each retry must find the work done: RegisterIncident's first incident is never saved,
// ScheduleExam adds no second exam, SendNotification keeps the exam and binds it to the
// newest token (the first one is then refused), ResolveIncident closes the incident once.
func TestRetryAfterSuccessPassPath(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	key := newKey("retry-pass")
	faults := map[string]*lambdaFault{}
	for _, state := range []string{"RegisterIncident", "ScheduleExam", "SendNotification", "ResolveIncident"} {
		faults[state] = h.failAfterInvoke(key, state, 1)
	}
	e := openIncidentWithKey(t, ctx, mainMachine, key, `{"StudentId": "student-retry"}`)

	first := decodeIncident(t, "RegisterIncident's lost answer", hitOf(t, ctx, faults["RegisterIncident"]).output)
	scheduled := decodeIncident(t, "ScheduleExam's lost answer", hitOf(t, ctx, faults["ScheduleExam"]).output)
	var lostCall struct{ TaskToken string }
	json.Unmarshal(hitOf(t, ctx, faults["SendNotification"]).input, &lostCall)
	n := waitNotification(t, ctx, e, 1)
	id, examID := n.Incident.IncidentId, n.Incident.Exams[0].ExamId

	if first.IncidentId == "" || first.IncidentId == id {
		fatal(t, "RegisterIncident retried", fmt.Errorf("the retry returned incident %s, the lost answer %s: want a new id", id, first.IncidentId))
	}
	if _, ok, err := h.item(ctx, first.IncidentId); ok || err != nil {
		fatal(t, "RegisterIncident retried", fmt.Errorf("the lost answer's incident %s was saved (%v)", first.IncidentId, err))
	}
	if scheduled.IncidentId != id || len(scheduled.Exams) != 1 || scheduled.Exams[0].ExamId != examID {
		fatal(t, "ScheduleExam retried", fmt.Errorf("the lost answer had %+v, the retry's exam is %s: want the same one exam", scheduled.Exams, examID))
	}
	if lostCall.TaskToken == "" || lostCall.TaskToken == n.Token {
		fatal(t, "SendNotification retried", fmt.Errorf("the retry got the same token: Step Functions gives a retried attempt a new one"))
	}
	item := rawItem(t, ctx, id)
	if got := tokenDigests(item); !slices.Equal(got, []string{digest(n.Token)}) {
		fatal(t, "SendNotification retried", fmt.Errorf("exam token digests %v, want only the newest token's %s", got, digest(n.Token)))
	}
	msgs := h.messagesAbout(examID)
	if len(msgs) != 2 || msgs[0].Replaces || !msgs[1].Replaces || !strings.Contains(msgs[1].Message, "replaces an earlier one") {
		fatal(t, "SendNotification retried", fmt.Errorf("messages about exam %s: %+v; want two, the second saying it replaces the first", examID, msgs))
	}
	for _, m := range msgs {
		if m.SubmitURL != h.apis[mainMachine]+"/exam" || strings.Contains(m.Message, n.Token) || strings.Contains(m.Message, lostCall.TaskToken) {
			fatal(t, "SendNotification's message", fmt.Errorf("%+v: want SUBMIT_URL %s/exam and no token in the log", m, h.apis[mainMachine]))
		}
	}

	// The first message's token no longer works, and changes nothing.
	submitRejected(t, ctx, "the replaced message's token", mainMachine, id, id, examID, 80, lostCall.TaskToken, 403, "TaskToken")
	submitOK(t, ctx, mainMachine, n, 80)
	closed := decodeIncident(t, "ResolveIncident's lost answer", hitOf(t, ctx, faults["ResolveIncident"]).output)
	checkOutcome(t, ctx, e, "student-retry", id, outcome{path: passPath, resolved: true, scores: []int{80}, results: []int{0}})
	final := mustItem(t, ctx, "one closure", id)
	if final.ResolutionDate != closed.ResolutionDate || final.Version != closed.Version {
		fatal(t, "ResolveIncident retried", fmt.Errorf("the item has ResolutionDate %s version %d, the first run closed it at %s version %d: want one closure",
			final.ResolutionDate, final.Version, closed.ResolutionDate, closed.Version))
	}
	for _, state := range []string{"RegisterIncident", "ScheduleExam", "SendNotification", "ResolveIncident"} {
		if got := e.retries(state); len(got) != 1 || !strings.Contains(got[0], "Lambda.ServiceException") {
			fatal(t, state+" retried", fmt.Errorf("retries %v, want one by the Lambda.ServiceException retrier", got))
		}
	}
}

// TestRetryAfterSuccessTakeAdministrativeAction: the escalation runs, its answer is lost,
// the retry returns the incident as the first run closed it.
func TestRetryAfterSuccessTakeAdministrativeAction(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	key := newKey("retry-admin")
	fault := h.failAfterInvoke(key, "TakeAdministrativeAction", 1)
	e := openIncidentWithKey(t, ctx, mainMachine, key, `{"StudentId": "student-retry-admin"}`)
	n := waitNotification(t, ctx, e, 1)
	submitOK(t, ctx, mainMachine, n, 0)
	closed := decodeIncident(t, "TakeAdministrativeAction's lost answer", hitOf(t, ctx, fault).output)
	checkOutcome(t, ctx, e, "student-retry-admin", n.Incident.IncidentId, outcome{
		path: concat(passPath[:4], []string{"TakeAdministrativeAction"}), resolved: false, scores: []int{0}, results: []int{2},
	})
	final := mustItem(t, ctx, "one closure", n.Incident.IncidentId)
	if !closed.AdminActionRequired || final.ResolutionDate != closed.ResolutionDate || final.Version != closed.Version {
		fatal(t, "TakeAdministrativeAction retried", fmt.Errorf("item closed at %s version %d, first run at %s version %d: want one closure",
			final.ResolutionDate, final.Version, closed.ResolutionDate, closed.Version))
	}
}

// dynamoDBAttempts is how many times the functions' DynamoDB client sends a request that
// keeps failing with a retryable error: aws-sdk-go-v2's DynamoDB client defaults to 4
// attempts (25 ms base delay), not the SDK's general 3.
const dynamoDBAttempts = 4

// TestDynamoDBThrottlingIsRetried: DynamoDB throttles ScheduleExam's first run beyond all
// of the SDK's attempts; the function fails with TransientError, the state machine's
// retrier runs it again, and the workflow goes on with one exam.
func TestDynamoDBThrottlingIsRetried(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	key := newKey("throttled")
	fault := h.failDynamoDB(key, "ScheduleExam", ddbThrottling, "Throughput exceeds the current capacity of your table or index.", 1)
	e := openIncidentWithKey(t, ctx, mainMachine, key, `{"StudentId": "student-throttled"}`)
	n := waitNotification(t, ctx, e, 1)
	if got := fault.requests(); !slices.Equal(got, slices.Repeat([]string{"1 GetItem"}, dynamoDBAttempts)) {
		fatal(t, "throttled", fmt.Errorf("throttled requests %v, want the SDK's %d attempts of the first run's GetItem, and no other request", got, dynamoDBAttempts))
	}
	if got := e.failures("ScheduleExam"); !slices.Equal(got, []string{"TransientError"}) {
		fatal(t, "throttled", fmt.Errorf("ScheduleExam failed with %v, want TransientError once", got))
	}
	if got := e.retries("ScheduleExam"); len(got) != 1 || got[0] != "TransientError" {
		fatal(t, "throttled", fmt.Errorf("ScheduleExam retries %v, want one by the TransientError retrier", got))
	}
	submitOK(t, ctx, mainMachine, n, 90)
	checkOutcome(t, ctx, e, "student-throttled", n.Incident.IncidentId, outcome{path: passPath, resolved: true, scores: []int{90}, results: []int{0}})
}

// TestPermanentErrorRecordsFailure: DynamoDB refuses ScheduleExam (AccessDeniedException, not
// retried); the catch-all records the failure on the incident and escalates it, and the
// execution fails with that error, which the failed-executions alarm counts.
func TestPermanentErrorRecordsFailure(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	key := newKey("denied")
	fault := h.failDynamoDB(key, "ScheduleExam", ddbAccessDenied,
		"User: arn:aws:sts::000000000000:assumed-role/ScheduleExamRole/scheduleexam is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/"+tableName)
	e := openIncidentWithKey(t, ctx, mainMachine, key, `{"StudentId": "student-denied"}`)
	waitEnded(t, ctx, e)
	if got, want := e.path(), []string{"RegisterIncident", "ScheduleExam", "RecordFailure", "WorkflowFailed"}; !slices.Equal(got, want) {
		fatal(t, "execution path", fmt.Errorf("got %v, want %v; %s", got, want, e.summary()))
	}
	if got := fault.requests(); !slices.Equal(got, []string{"1 GetItem"}) {
		fatal(t, "denied", fmt.Errorf("refused requests %v, want one GetItem: neither the SDK nor the state machine retries AccessDenied", got))
	}
	h.mu.Lock()
	status, errName, cause := e.status, e.err, e.cause
	h.mu.Unlock()
	if status != "FAILED" || errName == "" || errName == "TransientError" || !strings.Contains(cause, "AccessDeniedException") {
		fatal(t, "execution", fmt.Errorf("ended %s with %s: %s; want FAILED with the function's error naming AccessDeniedException", status, errName, cause))
	}
	t.Logf("execution %s: %s with %s: %.300s", key, status, errName, cause)
	if !slices.Contains(h.dep.alarmStatuses, status) {
		fatal(t, "alarm", fmt.Errorf("the execution ended %s, which the synthesized alarm does not count (it counts %v)", status, h.dep.alarmStatuses))
	}
	input, _ := e.enteredWith("ScheduleExam")
	id := decodeIncident(t, "ScheduleExam's input", input).IncidentId
	inc := mustItem(t, ctx, "the recorded failure", id)
	if inc.Failure == nil || inc.Failure.Error != errName || inc.Failure.Cause != cause || !inc.AdminActionRequired || inc.IncidentResolved || len(inc.Exams) != 0 || inc.StudentId != "student-denied" {
		fatal(t, "the recorded failure", fmt.Errorf("item %+v (Failure %+v): want Failure = the execution's error and cause, AdminActionRequired, no exam", inc, inc.Failure))
	}
}

// TestLateCallbackKeepsTheScore: Step Functions accepts SendTaskSuccess but its answer
// arrives after SubmitExam's 2 s attempt timeout; the retry finds the task done. The score
// is kept and the execution goes on.
func TestLateCallbackKeepsTheScore(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncidentWithKey(t, ctx, mainMachine, newKey("late"), `{"StudentId": "student-late"}`)
	n := waitNotification(t, ctx, e, 1)
	h.answerLate(n.Token, 4*time.Second)
	resp := submit(t, ctx, mainMachine, n.Incident.IncidentId, n.Incident.Exams[0].ExamId, 85, n.Token)
	if resp.Status != 200 && resp.Status != 202 {
		fatal(t, "POST /exam", fmt.Errorf("status %d %s, want 200 (or 202: stored, unconfirmed)", resp.Status, resp.Body))
	}
	var ops []string
	for _, c := range h.sfnCallsFor(n.Token) {
		if c.Operation == "SendTaskSuccess" {
			ops = append(ops, fmt.Sprintf("%s late=%v", c.ErrorType, c.Late))
		}
	}
	if len(ops) < 2 || ops[0] != " late=true" || ops[1] != "TaskDoesNotExist late=false" {
		fatal(t, "callbacks", fmt.Errorf("SendTaskSuccess calls %q, want the accepted late one, then TaskDoesNotExist", ops))
	}
	checkOutcome(t, ctx, e, "student-late", n.Incident.IncidentId, outcome{path: passPath, resolved: true, scores: []int{85}, results: []int{0}})
}

// TestAnotherIncidentsTokenIsRefused: a token scores only the exam it was issued for.
func TestAnotherIncidentsTokenIsRefused(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	ea := openIncidentWithKey(t, ctx, mainMachine, newKey("token-a"), `{"StudentId": "student-a"}`)
	eb := openIncidentWithKey(t, ctx, mainMachine, newKey("token-b"), `{"StudentId": "student-b"}`)
	a, b := waitNotification(t, ctx, ea, 1), waitNotification(t, ctx, eb, 1)
	ida, idb := a.Incident.IncidentId, b.Incident.IncidentId
	beforeA, beforeB := rawItem(t, ctx, ida), rawItem(t, ctx, idb)
	for _, c := range []struct {
		name       string
		n          notification
		otherToken string
	}{{"A's exam with B's token", a, b.Token}, {"B's exam with A's token", b, a.Token}} {
		resp := submit(t, ctx, mainMachine, c.n.Incident.IncidentId, c.n.Incident.Exams[0].ExamId, 100, c.otherToken)
		if resp.Status != 403 || resp.Header.Get("Access-Control-Allow-Origin") != examOrigin {
			fatal(t, c.name, fmt.Errorf("status %d headers %v %s, want 403 with CORS origin %s", resp.Status, resp.Header, resp.Body, examOrigin))
		}
	}
	if !reflect.DeepEqual(beforeA, rawItem(t, ctx, ida)) || !reflect.DeepEqual(beforeB, rawItem(t, ctx, idb)) {
		fatal(t, "items unchanged", fmt.Errorf("a refused submission changed an item"))
	}
	for _, c := range h.sfnCallsFor(a.Token) {
		fatal(t, "no callback", fmt.Errorf("a refused submission called Step Functions: %+v", c))
	}
	submitOK(t, ctx, mainMachine, a, 80)
	submitOK(t, ctx, mainMachine, b, 95)
	checkOutcome(t, ctx, ea, "student-a", ida, outcome{path: passPath, resolved: true, scores: []int{80}, results: []int{0}})
	checkOutcome(t, ctx, eb, "student-b", idb, outcome{path: passPath, resolved: true, scores: []int{95}, results: []int{0}})
}

// TestConcurrentSubmissionsOneWins: two submissions for one exam with different scores at
// the same moment, in two execution environments of SubmitExam: exactly one is stored and
// resumes the execution, the other is 409.
func TestConcurrentSubmissionsOneWins(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncidentWithKey(t, ctx, mainMachine, newKey("race"), `{"StudentId": "student-race"}`)
	n := waitNotification(t, ctx, e, 1)
	scores := []int{80, 90}
	resps := make([]apiResponse, len(scores))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, score := range scores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"IncidentId": n.Incident.IncidentId, "ExamId": n.Incident.Exams[0].ExamId, "Score": score, "TaskToken": n.Token})
			<-start
			resps[i], _ = h.post(ctx, mainMachine, "/exam", string(body))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, r := range resps {
		switch {
		case r.Status == 200 && winner < 0:
			winner = scores[i]
		case r.Status != 409:
			fatal(t, "concurrent POST /exam", fmt.Errorf("statuses %d and %d (%s / %s), want one 200 and one 409", resps[0].Status, resps[1].Status, resps[0].Body, resps[1].Body))
		}
	}
	if winner < 0 {
		fatal(t, "concurrent POST /exam", fmt.Errorf("no submission won: %d %s / %d %s", resps[0].Status, resps[0].Body, resps[1].Status, resps[1].Body))
	}
	if got := h.callbacksAccepted(n.Token); got != 1 {
		fatal(t, "one callback", fmt.Errorf("%d successful SendTaskSuccess calls, want 1", got))
	}
	checkOutcome(t, ctx, e, "student-race", n.Incident.IncidentId, outcome{path: passPath, resolved: true, scores: []int{winner}, results: []int{0}})
}

// TestIdempotencyKey: a client's retry of POST /incident with the same Idempotency-Key and
// body gets the same execution; the same key with another body, or after the execution
// ended, is 409; a key Step Functions cannot take as a name is 400. All through the
// synthesized templates and Step Functions' own answers.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	key := newKey("idem")
	body := `{"StudentId": "student-idem"}`
	first := postIncident(t, ctx, mainMachine, key, body)
	again := postIncident(t, ctx, mainMachine, key, body)
	if first.Status != 200 || again.Status != 200 || string(first.Body) != string(again.Body) {
		fatal(t, "retry with the same key", fmt.Errorf("answers %d %s and %d %s, want the same 200 twice", first.Status, first.Body, again.Status, again.Body))
	}
	starts := 0
	h.mu.Lock()
	for _, c := range h.sfnCalls {
		if c.Operation == "StartExecution" && c.Name == key && c.ErrorType == "" {
			starts++
		}
	}
	executions := 0
	for _, e := range h.executions {
		if e.name == key {
			executions++
		}
	}
	h.mu.Unlock()
	if starts != 2 || executions != 1 {
		fatal(t, "retry with the same key", fmt.Errorf("%d StartExecution calls answered, %d executions: want 2 calls and 1 execution", starts, executions))
	}
	other := postIncident(t, ctx, mainMachine, key, `{"StudentId": "someone-else"}`)
	checkAPIError(t, "same key, another body", other, 409, "Idempotency-Key")

	e := h.execution(key)
	n := waitNotification(t, ctx, e, 1)
	submitOK(t, ctx, mainMachine, n, 77)
	checkOutcome(t, ctx, e, "student-idem", n.Incident.IncidentId, outcome{path: passPath, resolved: true, scores: []int{77}, results: []int{0}})
	checkAPIError(t, "same key after the execution ended", postIncident(t, ctx, mainMachine, key, body), 409, "has finished")

	for _, bad := range []string{"has space", strings.Repeat("k", 81), "semi;colon"} {
		resp := postIncident(t, ctx, mainMachine, bad, `{"StudentId": "student-badkey"}`)
		checkAPIError(t, "key "+bad, resp, 400, "Idempotency-Key must be")
		if h.execution(bad) != nil || h.execution("invalid Idempotency-Key") != nil {
			fatal(t, "key "+bad, fmt.Errorf("an execution started"))
		}
	}
}

// TestStartExecutionErrorsMapToStatuses: Step Functions' answers to StartExecution, real
// (an input over 256 KiB) and injected (throttling, quota, access denied, unavailable),
// come back through the synthesized integration responses with the status a client can act
// on, CORS headers, and no execution.
func TestStartExecutionErrorsMapToStatuses(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	huge := newKey("huge")
	resp := postIncident(t, ctx, mainMachine, huge, `{"StudentId": "`+strings.Repeat("x", maxExecutionInput)+`"}`)
	checkAPIError(t, "input over 256 KiB", resp, 400, "not valid workflow input")
	for _, c := range []struct {
		status     int
		errorType  string
		wantStatus int
		want       string
	}{
		{400, "ThrottlingException", 429, "retry later"},
		{400, "ExecutionLimitExceeded", 429, "retry later"},
		{400, "AccessDeniedException", 500, "could not be started"},
		{503, "ServiceUnavailable", 500, "could not be started"},
		{500, "InternalFailure", 500, "could not be started"},
	} {
		key := newKey("start-" + strings.ToLower(c.errorType))
		h.failStart(key, c.status, c.errorType, c.errorType+" injected by the e2e harness")
		resp := postIncident(t, ctx, mainMachine, key, `{"StudentId": "student-start"}`)
		checkAPIError(t, c.errorType, resp, c.wantStatus, c.want)
		if h.execution(key) != nil {
			fatal(t, c.errorType, fmt.Errorf("an execution started"))
		}
	}
	if h.execution(huge) != nil {
		fatal(t, "input over 256 KiB", fmt.Errorf("an execution started"))
	}
}

// checkAPIError requires a JSON {"message"} answer with status, the CORS header the
// synthesized API maps, and a message mentioning want.
func checkAPIError(t *testing.T, step string, resp apiResponse, status int, want string) {
	t.Helper()
	var msg struct{ Message string }
	err := json.Unmarshal(resp.Body, &msg)
	if resp.Status != status || err != nil || !strings.Contains(msg.Message, want) || resp.Header.Get("Access-Control-Allow-Origin") != incidentOrigin() {
		fatal(t, step, fmt.Errorf("status %d headers %v body %s, want %d with CORS origin %q and a message mentioning %q", resp.Status, resp.Header, resp.Body, status, incidentOrigin(), want))
	}
}

// incidentOrigin is the Access-Control-Allow-Origin the synthesized API maps onto
// POST /incident's answers.
func incidentOrigin() string {
	v := h.restAPIs[mainMachine].methods["POST /incident"].integration.responses[0].params["method.response.header.Access-Control-Allow-Origin"]
	return strings.Trim(v, "'")
}

// TestFrontDoorAnswersItself: what API Gateway answers without calling an integration, as
// the synthesized API configures it: an unknown route, a body of a media type with no
// template, the CORS preflight (a mock integration).
func TestFrontDoorAnswersItself(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	for _, c := range []struct {
		method, path, contentType string
		status                    int
		message                   string
	}{
		{http.MethodPost, "/nope", "application/json", 403, "Missing Authentication Token"},
		{http.MethodGet, "/incident", "", 403, "Missing Authentication Token"},
		{http.MethodPost, "/incident", "text/plain", 415, "Unsupported Media Type"},
	} {
		resp, err := h.send(ctx, c.method, mainMachine, c.path, `{"StudentId": "s"}`, map[string]string{"Content-Type": c.contentType})
		if err != nil {
			fatal(t, c.method+" "+c.path, err)
		}
		checkAPIError(t, c.method+" "+c.path+" "+c.contentType, resp, c.status, c.message)
		h.mu.Lock()
		called := h.requests[resp.RequestID]
		h.mu.Unlock()
		if called || h.execution(resp.RequestID) != nil {
			fatal(t, c.method+" "+c.path, fmt.Errorf("the request reached the integration"))
		}
	}
	// A request without a body reaches SubmitExam as the proxy event API Gateway builds
	// ("body": null), and its answer carries the function's own CORS origin.
	resp, err := h.send(ctx, http.MethodPost, mainMachine, "/exam", "", nil)
	if err != nil {
		fatal(t, "POST /exam without a body", err)
	}
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "body") || resp.Header.Get("Access-Control-Allow-Origin") != examOrigin {
		fatal(t, "POST /exam without a body", fmt.Errorf("status %d headers %v body %s, want 400 about the body with CORS origin %s", resp.Status, resp.Header, resp.Body, examOrigin))
	}
	resp, err = h.send(ctx, http.MethodOptions, mainMachine, "/incident", "", map[string]string{"Origin": "https://exams.e2e.example", "Access-Control-Request-Method": "POST"})
	if err != nil {
		fatal(t, "OPTIONS /incident", err)
	}
	if resp.Status != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		fatal(t, "OPTIONS /incident", fmt.Errorf("status %d headers %v, want 204 allowing POST and the Idempotency-Key header", resp.Status, resp.Header))
	}
}
