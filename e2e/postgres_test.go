package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// postgres is a PostgreSQL cluster of the rig's own, in a temporary directory, for the local
// Tracetest server. Like RDS with a current engine it accepts only TLS on TCP: pg_hba.conf
// has hostssl lines and rejects everything else, so the server must connect with the
// sslmode its task definition sets. It listens on 127.0.0.1 and on a Unix socket in its
// directory (which only the rig uses, to create the database).
type postgres struct {
	bin, dir, socketDir    string
	port                   int
	user, password, dbname string
	proc                   *proc
	cred                   *syscall.Credential // the user the cluster runs as when the rig is root
}

// postgresBin finds the binaries of Debian's postgresql package (the newest major version),
// or of a PostgreSQL on PATH.
func postgresBin() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi > vj
	})
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL is not installed: `make tools` installs Debian's postgresql when run as root (CI); " +
		"otherwise: sudo apt-get install postgresql")
}

// startPostgres creates and starts a cluster in dir with a TLS certificate and one database.
func startPostgres(ctx context.Context, dir string, certPEM, keyPEM []byte, user, password, dbname string) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: bin, dir: dir, socketDir: filepath.Join(dir, "run"), port: ports[0], user: user, password: password, dbname: dbname}
	if err := os.MkdirAll(pg.socketDir, 0o700); err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user
	// the Debian package creates.
	if os.Geteuid() == 0 {
		u, err := lookupUser("postgres")
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres user to run it as (Debian's postgresql package creates one): %w", err)
		}
		pg.cred = u
	}
	files := map[string][]byte{"pwfile": []byte(password), "server.crt": certPEM, "server.key": keyPEM}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			return nil, err
		}
	}
	if err := pg.chown(dir); err != nil {
		return nil, err
	}

	data := filepath.Join(dir, "data")
	if out, err := pg.run(ctx, "initdb", "-D", data, "-U", user, "--pwfile="+filepath.Join(dir, "pwfile"),
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	hba := "# The rig's cluster: TLS only on TCP, as RDS enforces with rds.force_ssl.\n" +
		"local   all all                trust\n" +
		"hostssl all all 127.0.0.1/32   scram-sha-256\n" +
		"hostnossl all all 0.0.0.0/0    reject\n" +
		"hostnossl all all ::/0         reject\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return nil, err
	}
	if err := pg.chown(filepath.Join(data, "pg_hba.conf")); err != nil {
		return nil, err
	}

	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(pg.port),
		"-c", "unix_socket_directories="+pg.socketDir,
		"-c", "ssl=on",
		"-c", "ssl_cert_file="+filepath.Join(dir, "server.crt"),
		"-c", "ssl_key_file="+filepath.Join(dir, "server.key"),
		"-c", "max_connections=200", // Tracetest opens up to 80 + 20 connections
		// A throwaway cluster: durability costs time and buys nothing.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Env = envWith(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if pg.proc, err = startProc("postgres", cmd); err != nil {
		return nil, err
	}
	if err := waitTCP(pg.proc, fmt.Sprintf("127.0.0.1:%d", pg.port), 30*time.Second); err != nil {
		pg.stop()
		return nil, fmt.Errorf("%w\n%s", err, pg.proc.report())
	}
	var out string
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if out, err = pg.run(ctx, "createdb", "-h", pg.socketDir, "-p", strconv.Itoa(pg.port), "-U", user, dbname); err == nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			pg.stop()
			return nil, fmt.Errorf("createdb %s: %w\n%s", dbname, err, out)
		}
	}
	return pg, nil
}

// run runs one of the cluster's client programs as the cluster's user.
func (pg *postgres) run(ctx context.Context, program string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, program), args...)
	cmd.Env = envWith(nil)
	cmd.Dir = pg.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// psql runs a query over TCP with the given sslmode, as a client on the network would.
func (pg *postgres) psql(ctx context.Context, sslmode, query string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, "psql"), "-X", "-A", "-t", "-c", query,
		fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=%s", pg.port, pg.user, pg.dbname, sslmode))
	cmd.Env = envWith(map[string]string{"PGPASSWORD": pg.password, "PGCONNECT_TIMEOUT": "5"})
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (pg *postgres) chown(path string) error {
	if pg.cred == nil {
		return nil
	}
	return filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(pg.cred.Uid), int(pg.cred.Gid))
	})
}

// stop shuts the cluster down (fast shutdown on SIGTERM).
func (pg *postgres) stop() {
	if pg.proc != nil {
		pg.proc.stop()
	}
}

func lookupUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s has uid %q gid %q", name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
