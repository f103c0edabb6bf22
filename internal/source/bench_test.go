package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFileTail measures lines per second through a File source: each
// iteration appends a batch of sshd-like lines and waits for all of them.
func BenchmarkFileTail(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			const batch = 10000
			var buf bytes.Buffer
			for i := range batch {
				fmt.Fprintf(&buf, "Nov 27 12:00:00 host sshd[%d]: Failed password for invalid user admin from 192.0.2.%d port 22 ssh2\n", 1000+i, i%250)
			}
			path := filepath.Join(b.TempDir(), "auth.log")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				b.Fatal(err)
			}
			o := FileOptions{Files: []FileSpec{{Pattern: path}}, Mode: mode, PollInterval: time.Millisecond}
			src, err := NewFile(o)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			out := make(chan Line, 1024)
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, out) }()
			time.Sleep(20 * time.Millisecond) // opened at the end
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(int64(buf.Len()))
			b.ResetTimer()
			for range b.N {
				if _, err := f.Write(buf.Bytes()); err != nil {
					b.Fatal(err)
				}
				for range batch {
					<-out
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lines/s")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
