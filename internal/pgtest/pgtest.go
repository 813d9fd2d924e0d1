// Package pgtest starts a throw-away PostgreSQL server on loopback for tests
// that must run SQL for real (backup/restore scripts, report queries).
//
// It uses Debian's postgresql package (scripts/test-deps.sh installs it). The
// server listens only on a Unix socket in its own temporary directory, trusts
// local connections, and is stopped and removed when the test ends. When the
// tests run as root the server runs as the "postgres" user, because PostgreSQL
// refuses to start as root.
package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Server is a running PostgreSQL server.
type Server struct {
	// Bin holds initdb, pg_ctl, psql, pg_dump, pg_restore of the server's version.
	Bin string
	// Host is the directory of the server's Unix socket (libpq's PGHOST).
	Host string
	Port int
	// User is the superuser name (libpq's PGUSER).
	User string
	cred *syscall.Credential
}

// BinDir finds the newest installed PostgreSQL server binaries.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server found under /usr/lib/postgresql/*/bin: run scripts/test-deps.sh (apt-get install postgresql)")
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start initialises and starts a server; it is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Bin: bin, Host: dir, Port: freePort(t), User: "postgres"}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user (the postgresql package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else if u, err := user.Current(); err == nil {
		s.User = u.Username
	}
	data := filepath.Join(dir, "data")
	s.run(t, filepath.Join(bin, "initdb"), "-D", data, "-U", s.User, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	s.run(t, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-k %s -p %d -c listen_addresses='' -c fsync=off -c full_page_writes=off", dir, s.Port), "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return s
}

func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Host, "server.log"))
		t.Fatalf("%s %s: %v\n%s\nserver log:\n%s", filepath.Base(name), strings.Join(args, " "), err, out, log)
	}
}

// Env is the libpq environment (PGHOST, PGPORT, PGUSER) that points a client
// at this server; append it to os.Environ() for a subprocess.
func (s *Server) Env() []string {
	return []string{"PGHOST=" + s.Host, "PGPORT=" + strconv.Itoa(s.Port), "PGUSER=" + s.User}
}

// Command runs a client program (psql, pg_dump, a script) with Env set and
// the server's binaries first on PATH.
func (s *Server) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	cmd.Env = append(cmd.Env, "PATH="+s.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}

// CreateDB creates an empty database.
func (s *Server) CreateDB(t testing.TB, name string) {
	t.Helper()
	s.Psql(t, "postgres", fmt.Sprintf("CREATE DATABASE %q", name))
}

// Psql runs SQL in database db with ON_ERROR_STOP and returns unaligned,
// tuples-only output (fields separated by '|').
func (s *Server) Psql(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := s.Command(filepath.Join(s.Bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db)
	cmd.Stdin = strings.NewReader(sql)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s", err, errb.String())
	}
	return strings.TrimRight(out.String(), "\n")
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
