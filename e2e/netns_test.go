package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// The Tracetest rig (make tracetest-local) runs the whole test binary in a network namespace
// of its own, with only a loopback interface, and a mount namespace in which /etc/hosts
// names the AWS endpoints the rig serves. The real Tracetest server then runs as deployed:
// its HTTP API and OTLP ports bind every interface of a namespace that has no other, so no
// port is shared with anything on the machine; it reaches X-Ray at
// xray.<region>.amazonaws.com:443 with no endpoint option, and nothing can reach the
// internet. Creating the namespaces needs root, as does the emulator mode that passes trace
// headers to the functions (see startFunction).

const (
	// rigEnv, set by `make tracetest-local`, runs the Tracetest rig tests.
	rigEnv = "E2E_TRACETEST"
	// insideEnv marks the test binary running inside the rig's namespaces.
	insideEnv = "E2E_TRACETEST_NAMESPACE"
)

// rigHosts are the host names /etc/hosts maps to 127.0.0.1 inside the namespace.
func rigHosts(api apiNames) []string {
	return []string{xrayHost(), apiHost(api)}
}

func xrayHost() string { return "xray." + region + ".amazonaws.com" }

func apiHost(api apiNames) string { return api.id + ".execute-api." + region + ".amazonaws.com" }

// runInRigNamespace runs this test binary again, with the same arguments, in new network
// and mount namespaces, and returns its exit code.
func runInRigNamespace() int {
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "e2e: the Tracetest rig needs root: it creates a network namespace for the real Tracetest server "+
			"and runs the Lambda emulator in the mode that passes trace headers, which runs functions as uid 993 like Lambda "+
			"(CI runs as root; locally: sudo -E make tracetest-local)\n")
		return 1
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), insideEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The Go runtime makes the new mount namespace private before the exec, so the mounts
	// below never reach the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "e2e: could not enter the rig's network namespace (unshare CLONE_NEWNET|CLONE_NEWNS): %v\n", err)
		return 1
	}
	return 0
}

// setUpRigNamespace brings up the namespace's loopback interface and mounts a hosts file
// naming the rig's AWS endpoints over /etc/hosts.
func setUpRigNamespace(dir string, api apiNames) error {
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bring up lo in the rig's network namespace: %w", err)
	}
	hosts := "127.0.0.1 localhost\n::1 localhost\n"
	// Programs that look up their own host name (DynamoDB Local's logging does) find it.
	if name, err := os.Hostname(); err == nil && name != "" && name != "localhost" {
		hosts += "127.0.0.1 " + name + "\n"
	}
	for _, h := range rigHosts(api) {
		hosts += "127.0.0.1 " + h + "\n"
	}
	file := filepath.Join(dir, "hosts")
	if err := os.WriteFile(file, []byte(hosts), 0o644); err != nil {
		return err
	}
	if err := syscall.Mount(file, "/etc/hosts", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount the rig's hosts file over /etc/hosts: %w", err)
	}
	return nil
}

// loopbackUp sets IFF_UP on lo: a new network namespace starts with it down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return e
	}
	ifr.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return e
	}
	return nil
}

// inRigNamespace reports whether this process is the test binary inside the rig's namespaces.
func inRigNamespace() bool { return os.Getenv(insideEnv) != "" }

// rigRequested reports whether make tracetest-local asked for the rig.
func rigRequested() bool { return strings.TrimSpace(os.Getenv(rigEnv)) != "" }
