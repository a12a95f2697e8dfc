package tracing

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// daemonHeader starts every datagram, followed by a newline and one segment
// document: the X-Ray daemon protocol as AWS documents it.
const daemonHeader = `{"format": "json", "version": 1}` + "\n"

// defaultDaemonAddress is where the daemon listens when
// AWS_XRAY_DAEMON_ADDRESS is not set (Lambda always sets it).
const defaultDaemonAddress = "127.0.0.1:2000"

// maxDatagram is the largest document the daemon reads (its receive buffer is
// 64 KiB, header included).
const maxDatagram = 64*1024 - len(daemonHeader)

// daemon is the UDP socket to the X-Ray daemon, opened on first use.
var daemon struct {
	once sync.Once
	mu   sync.Mutex
	conn net.Conn
}

// send writes one document to the daemon. UDP gives no delivery report, and a
// lost subsegment must not fail the function: errors are reported on stderr,
// the first one only.
func send(doc []byte) {
	daemon.once.Do(func() {
		addr, err := daemonAddress(os.Getenv("AWS_XRAY_DAEMON_ADDRESS"))
		if err == nil {
			daemon.conn, err = net.Dial("udp", addr)
		}
		if err != nil {
			report(fmt.Errorf("AWS X-Ray daemon: %w; subsegments are not sent", err))
		}
	})
	if daemon.conn == nil {
		return
	}
	if len(doc) > maxDatagram {
		report(fmt.Errorf("subsegment document of %d bytes is over the daemon's %d; not sent", len(doc), maxDatagram))
		return
	}
	datagram := make([]byte, 0, len(daemonHeader)+len(doc))
	datagram = append(append(datagram, daemonHeader...), doc...)
	daemon.mu.Lock()
	_, err := daemon.conn.Write(datagram)
	daemon.mu.Unlock()
	if err != nil {
		report(fmt.Errorf("send subsegment to the AWS X-Ray daemon: %w", err))
	}
}

// daemonAddress reads AWS_XRAY_DAEMON_ADDRESS: "host:port", or the pair
// "tcp:host:port udp:host:port" (either order) of which the UDP one is used.
func daemonAddress(value string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return defaultDaemonAddress, nil
	}
	invalid := fmt.Errorf("AWS_XRAY_DAEMON_ADDRESS %q: want host:port or \"tcp:host:port udp:host:port\"", value)
	fields := strings.Fields(value)
	var addr string
	switch len(fields) {
	case 1:
		addr = fields[0]
	case 2:
		for _, f := range fields {
			switch kind, rest, _ := strings.Cut(f, ":"); kind {
			case "udp":
				addr = rest
			case "tcp":
			default:
				return "", invalid
			}
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", invalid
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("AWS_XRAY_DAEMON_ADDRESS %q: port %q is not 1-65535", value, port)
	}
	return addr, nil
}

var reported sync.Once

// report writes the first tracing error to stderr (CloudWatch Logs in
// Lambda); tracing never fails the function.
func report(err error) {
	reported.Do(func() {
		fmt.Fprintf(os.Stderr, "tracing: %v\n", err)
	})
}
