package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/config"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServerLogBuffered(t *testing.T) {
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		atOnce []string // written before any flush
		later  []string // written only by the timer or flush
	}{
		{"info waits", func(l *slog.Logger) { l.Info("ban", "ip", "192.0.2.1") }, nil, []string{"msg=ban ip=192.0.2.1"}},
		{"warning flushes what came before", func(l *slog.Logger) {
			l.Info("ban", "ip", "192.0.2.1")
			l.With("jail", "sshd").Warn("odd")
		}, []string{"msg=ban ip=192.0.2.1", "msg=odd jail=sshd"}, nil},
		{"debug filtered", func(l *slog.Logger) { l.Debug("noise") }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out lockedBuffer
			log, flush, err := serverLogger(&out, "text", config.Server{LogLevel: "INFO"})
			if err != nil {
				t.Fatal(err)
			}
			tt.log(log)
			got := out.String()
			for _, w := range tt.atOnce {
				if !strings.Contains(got, w) {
					t.Errorf("before flush: %q lacks %q", got, w)
				}
			}
			for _, w := range tt.later {
				if strings.Contains(got, w) {
					t.Errorf("before flush: %q already has %q", got, w)
				}
			}
			// The timer writes pending lines within logFlushEvery.
			deadline := time.Now().Add(5 * time.Second)
			for _, w := range tt.later {
				for !strings.Contains(out.String(), w) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if !strings.Contains(out.String(), w) {
					t.Errorf("timer never wrote %q", w)
				}
			}
			flush()
			if strings.Contains(out.String(), "noise") {
				t.Errorf("debug line logged at INFO: %q", out.String())
			}
		})
	}
}
