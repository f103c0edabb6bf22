package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// Without -f, `warden server` daemonises as fail2ban-server does: it starts
// itself again, detached (new session, working directory /, standard
// streams on /dev/null, -f added), and waits until that process is ready,
// then exits 0. The child reports over an inherited pipe (--ready-fd):
// "READY" once it serves, or "ERROR <message>" if it fails before; the
// parent prints such a message and exits 1. systemd runs the daemon with -f
// (Type=notify).

// daemonReadyTimeout bounds how long the parent waits for the child.
const daemonReadyTimeout = 2 * time.Minute

// daemonize starts the detached server with the flags given to this one
// and waits for its readiness. It returns the child's pid.
func daemonize(flags *pflag.FlagSet, stderr io.Writer) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("daemonise: own executable: %w", err)
	}
	args := []string{"server"}
	flags.Visit(func(f *pflag.Flag) {
		if f.Name != "foreground" && f.Name != "ready-fd" {
			args = append(args, "--"+f.Name+"="+f.Value.String())
		}
	})
	args = append(args, "--foreground", "--ready-fd=3")
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("daemonise: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("daemonise: start %s: %w", exe, err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lines:
		switch {
		case line == "READY":
			return cmd.Process.Pid, nil
		case strings.HasPrefix(line, "ERROR "):
			<-exited
			return 0, errors.New(strings.TrimPrefix(line, "ERROR "))
		}
		err := <-exited
		return 0, fmt.Errorf("daemonise: the server exited before it was ready: %v", err)
	case <-time.After(daemonReadyTimeout):
		return 0, fmt.Errorf("daemonise: the server (pid %d) not ready after %s", cmd.Process.Pid, daemonReadyTimeout)
	}
}

// readyPipe is the child's end of daemonize's pipe.
type readyPipe struct{ f *os.File }

func openReadyPipe(fd int) *readyPipe {
	if fd <= 0 {
		return nil
	}
	return &readyPipe{f: os.NewFile(uintptr(fd), "ready")}
}

// ready tells the parent the server serves, once.
func (p *readyPipe) ready() {
	if p == nil || p.f == nil {
		return
	}
	fmt.Fprintln(p.f, "READY")
	p.f.Close()
	p.f = nil
}

// fail tells the parent why the server did not start, if it was not told
// anything yet.
func (p *readyPipe) fail(err error) {
	if p == nil || p.f == nil {
		return
	}
	fmt.Fprintln(p.f, "ERROR "+strings.ReplaceAll(err.Error(), "\n", "; "))
	p.f.Close()
	p.f = nil
}

// writePidFile writes the process id to path (creating its directory) and
// returns a function removing it again.
func writePidFile(path string) (remove func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	return func() {
		// Only our own pid file: a newer server may have replaced it.
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
			os.Remove(path)
		}
	}, nil
}
