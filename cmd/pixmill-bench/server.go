package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one pixmill process this command started, on its own temporary data
// directory and a free loopback port.
type server struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	dir  string // temporary; removed by stop
	logs *logTail
	done chan struct{} // closed when the process has exited
	exit error         // its exit status; read after done is closed
}

// startServer runs `bin serve --addr 127.0.0.1:0 --workers workers` with env added
// to this process's environment, and waits for its "listening" log line. The
// working directory is the empty temporary directory, so no configs/pixmill.yaml is
// read: the service runs on its built-in defaults plus env.
func startServer(ctx context.Context, bin string, workers int, env ...string) (*server, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("server binary %s: %w", bin, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("server binary (build it with `make build`): %w", err)
	}
	dir, err := os.MkdirTemp("", "pixmill-bench-server-")
	if err != nil {
		return nil, fmt.Errorf("temporary data dir: %w", err)
	}
	cmd := exec.Command(abs, "serve", "--addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--workers", strconv.Itoa(workers))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("server stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", abs, err)
	}
	s := &server{cmd: cmd, dir: dir, logs: newLogTail(200), done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		s.exit = cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
		return s, nil
	case <-s.done:
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pixmill exited before listening: %w\n%s", s.exit, s.logs.String())
	case <-time.After(30 * time.Second):
		err = errors.New("pixmill did not log \"listening\" within 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.kill()
	return nil, fmt.Errorf("start server: %w\n%s", err, s.logs.String())
}

// pid is the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM, waits for a clean exit (killing the process after a minute)
// and removes the data directory. An unclean exit is an error.
func (s *server) stop() error {
	defer func() { _ = os.RemoveAll(s.dir) }()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	select {
	case <-s.done:
		if s.exit != nil {
			return fmt.Errorf("server exit after SIGTERM: %w\n%s", s.exit, s.logs.String())
		}
		return nil
	case <-time.After(time.Minute):
		s.kill()
		return fmt.Errorf("server did not exit within a minute of SIGTERM; killed")
	}
}

// kill ends the process at once and waits for it; its exit status says nothing
// then.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
	_ = os.RemoveAll(s.dir)
}

// logTail keeps the last lines a server logged, and counts its error lines.
type logTail struct {
	mu     sync.Mutex
	max    int
	lines  []string
	errors int
	first  string // the first error line, to show in the report
}

func newLogTail(n int) *logTail { return &logTail{max: n} }

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == l.max {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, line)
	var rec struct{ Level string }
	if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "ERROR" {
		if l.errors == 0 {
			l.first = line
		}
		l.errors++
	}
}

// errorLines returns how many ERROR lines were logged since the last call, and the
// first of them.
func (l *logTail) errorLines() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, first := l.errors, l.first
	l.errors, l.first = 0, ""
	return n, first
}

// String returns the kept lines.
func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
