// Command coldstart measures each Lambda function's cold start under the AWS
// Lambda Runtime Interface Emulator, next to a hello-world Go function under
// the same emulator: the time from the first invoke to its answer. The
// emulator starts the function's process at the first invoke, so that time
// covers process start, Go runtime and package initialization, the handler's
// construction (AWS configuration, clients) and the first answer.
//
// Two kinds of first invoke:
//   - init: an input the function rejects before any AWS call, so the time is
//     the function's own start-up (what its size and initialization cost);
//   - call: an input that makes it do its work, with DynamoDB Local as the
//     database (registerincident, scheduleexam, takeadministrativeaction, on
//     a new incident each time), adding its first requests.
//
// A second reference, hellodynamodb (hello world with an aws-sdk-go-v2
// DynamoDB client made at start-up and never called), shows what linking and
// initializing the SDK's generated client costs: what the functions saved by
// calling DynamoDB through lambda-src/internal/awsapi instead. A third,
// hellocall (hello world making one plain HTTP GetItem to DynamoDB Local
// when given an incident), shows what a process's first request costs with no
// AWS code: the floor of the "call" rows.
//
// Runs are interleaved (one of each binary per round) so that the load of a
// shared machine spreads evenly; the table shows medians and the ratio to the
// hello-world function's median.
//
//	go run ./lambda-src/scripts/coldstart [-n 15] [-compare DIR]...
//
// -compare DIR (repeatable) also measures the functions of another checkout
// of this module (for example one with the X-Ray SDK), built the same way.
//
// "warm" is the median of a second invoke of the same process with the same
// kind of input; "cold - warm" is then what starting costs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

func main() {
	runs := flag.Int("n", 15, "cold starts per function and kind")
	rie := flag.String("rie", ".tools/bin/aws-lambda-rie", "the Runtime Interface Emulator")
	var compare []string
	flag.Func("compare", "a checkout of this module whose functions are measured too (repeatable)", func(dir string) error {
		compare = append(compare, dir)
		return nil
	})
	flag.Parse()
	if err := run(*runs, *rie, compare); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// binary is one function build to measure.
type binary struct {
	set, function, path string
}

// probe is one kind of first invoke of a function.
type probe struct {
	binary
	kind  string
	event func() []byte
}

func run(runs int, rie string, compare []string) error {
	if _, err := os.Stat(rie); err != nil {
		return fmt.Errorf("%w: run `make tools`", err)
	}
	rie, _ = filepath.Abs(rie)
	tmp, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	sets := []struct{ name, dir string }{{"this checkout", "."}}
	for _, dir := range compare {
		sets = append(sets, struct{ name, dir string }{filepath.Base(dir), dir})
	}
	var binaries []binary
	for i, set := range sets {
		out := filepath.Join(tmp, fmt.Sprint(i))
		pkgs := []string{"./lambda-src/cmd/..."}
		if i == 0 {
			pkgs = append(pkgs, "./lambda-src/scripts/coldstart/hello", "./lambda-src/scripts/coldstart/hellodynamodb", "./lambda-src/scripts/coldstart/hellocall")
		}
		if err := build(set.dir, out, pkgs); err != nil {
			return err
		}
		entries, err := os.ReadDir(out)
		if err != nil {
			return err
		}
		for _, e := range entries {
			binaries = append(binaries, binary{set.name, e.Name(), filepath.Join(out, e.Name())})
		}
	}

	ctx := context.Background()
	ddb, err := ddblocal.Start(ctx)
	if err != nil {
		return err
	}
	defer ddb.Stop()
	const table = "incidents"
	if err := ddb.CreateTable(ctx, table, "IncidentId"); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_REGION=" + ddblocal.Region, "AWS_DEFAULT_REGION=" + ddblocal.Region,
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddb.Endpoint,
		"AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR", // the X-Ray SDK's, for -compare builds
		"TABLE_NAME=" + table, "NOTIFICATION_MODE=log",
	}

	var probes []probe
	for _, b := range binaries {
		if _, ok := rejected[b.function]; !ok && b.set == "this checkout" {
			return fmt.Errorf("lambda-src/cmd/%s has no first invoke in this command's rejected list", b.function)
		}
		if reject, ok := rejected[b.function]; ok {
			probes = append(probes, probe{b, "init", func() []byte { return []byte(reject) }})
		}
		if event, ok := working[b.function]; ok {
			probes = append(probes, probe{b, "call", event})
		}
	}
	cold := make([][]time.Duration, len(probes))
	warm := make([][]time.Duration, len(probes))
	for round := 0; round < runs; round++ {
		for i := range probes {
			k := (i + round) % len(probes)
			p := probes[k]
			first, second, err := coldStart(rie, p.path, env, p.event)
			if err != nil {
				return fmt.Errorf("%s (%s, %s): %w", p.function, p.set, p.kind, err)
			}
			cold[k] = append(cold[k], first)
			warm[k] = append(warm[k], second)
		}
	}

	reference := map[string]time.Duration{}
	for i, p := range probes {
		if p.function == "hello" {
			reference[p.kind] = median(cold[i])
		}
	}
	fmt.Printf("Cold start to first answer under aws-lambda-rie, %d runs each, %s/%s, %d CPUs, load average %s\n\n",
		runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage())
	fmt.Println("| function | build | first invoke | cold median ms (min-max) | cold / hello world | warm median ms | cold - warm ms |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, p := range probes {
		c, w := median(cold[i]), median(warm[i])
		fmt.Printf("| %s | %s | %s | %.1f (%.1f-%.1f) | %.2f | %.1f | %.1f |\n", p.function, p.set, p.kind,
			ms(c), ms(slices.Min(cold[i])), ms(slices.Max(cold[i])), float64(c)/float64(reference[p.kind]), ms(w), ms(c-w))
	}
	return nil
}

// rejected are inputs each function refuses before any AWS call.
var rejected = map[string]string{
	"hello":                     `{}`,
	"hellodynamodb":             `{}`,
	"hellocall":                 `{}`,
	"registerincident":          `{"StudentId":""}`,
	"scheduleexam":              `{}`,
	"sendnotification":          `{}`,
	"sendnotification-log":      `{}`,
	"sendnotification-ses":      `{}`,
	"sendnotification-sendgrid": `{}`,
	"submitexam":                `{"httpMethod":"POST","body":"{}"}`,
	"resolveincident":           `{}`,
	"takeadministrativeaction":  `{}`,
}

// working are inputs that make a function do its work: a new incident each
// time, so that the functions that store read a missing item and write it.
var working = map[string]func() []byte{
	"hello":                    func() []byte { return newIncident() },
	"hellocall":                newIncident,
	"registerincident":         func() []byte { return []byte(`{"StudentId":"bench"}`) },
	"scheduleexam":             newIncident,
	"takeadministrativeaction": newIncident,
}

func newIncident() []byte {
	data, _ := json.Marshal(map[string]any{
		"IncidentId": uuid.NewString(), "StudentId": "bench", "IncidentDate": time.Now().UTC().Format(time.RFC3339),
		"Exams": []any{}, "IncidentResolved": false, "AdminActionRequired": false,
	})
	return data
}

// build compiles pkgs of the module in dir for this machine with the
// deployment's flags.
func build(dir, out string, pkgs []string) error {
	cmd := exec.Command("go", lambdabuild.GoBuildArgs(out, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, output)
	}
	return nil
}

// coldStart starts the emulator with the function, invokes it twice and
// returns the time from each invoke to its answer. The emulator's two ports
// are picked free and then bound by the emulator, so another process can take
// one in between (an outgoing connection's local port comes from the same
// range): the emulator then exits on "address already in use", and the run is
// repeated on new ports, up to three times.
func coldStart(rie, bootstrap string, env []string, event func() []byte) (first, second time.Duration, err error) {
	for attempt := 1; ; attempt++ {
		first, second, err = coldStartOnce(rie, bootstrap, env, event)
		if err == nil || attempt == 3 || !errors.Is(err, errPortTaken) {
			return first, second, err
		}
	}
}

// errPortTaken is coldStartOnce's error when the emulator could not bind a port.
var errPortTaken = errors.New("a port was taken before the emulator bound it")

func coldStartOnce(rie, bootstrap string, env []string, event func() []byte) (first, second time.Duration, err error) {
	ports, err := freePorts(2)
	if err != nil {
		return 0, 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", ports[1]), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = slices.Concat(env, []string{"AWS_LAMBDA_FUNCTION_NAME=" + filepath.Base(bootstrap), "AWS_LAMBDA_FUNCTION_TIMEOUT=30"})
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			break
		}
		// The emulator panics with this line when it cannot bind a port.
		if line := firstLine(logs.String(), "address already in use"); line != "" {
			return 0, 0, fmt.Errorf("%w: %s", errPortTaken, line)
		}
		select {
		case <-exited:
			return 0, 0, fmt.Errorf("the emulator exited before it listened on %s:\n%s", addr, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("the emulator did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	if first, err = invoke(url, event()); err == nil {
		second, err = invoke(url, event())
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, logs.String())
	}
	return first, second, nil
}

// invokeClient gives up on an answer well after the function's own timeout
// (AWS_LAMBDA_FUNCTION_TIMEOUT=30), so a stuck run fails instead of hanging.
var invokeClient = &http.Client{Timeout: time.Minute}

// invoke sends one event and returns how long the answer took.
func invoke(url string, event []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := invokeClient.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || len(body) == 0 {
		return 0, fmt.Errorf("invoke: %d %s %v", resp.StatusCode, body, err)
	}
	if bytes.Contains(body, []byte(`"errorType":"Runtime.`)) || bytes.Contains(body, []byte("operation error")) {
		return 0, errors.New("the function failed instead of answering: " + string(body))
	}
	return elapsed, nil
}

// lockedBuffer collects the emulator's output, which its copying goroutines
// write while the measurement reads it for an error message.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// firstLine is the first line of s that contains substr.
func firstLine(s, substr string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}
