package webhook

import (
	"testing"
	"time"
)

// BenchmarkSend measures the caller's cost of Send to three targets whose
// queues are full (the drop path, as under a flood with a stuck endpoint).
func BenchmarkSend(b *testing.B) {
	t := Target{URL: "http://127.0.0.1:9/", Format: FormatJSON, Timeout: time.Second}
	n := New([]Target{t, t, t}, Options{QueueSize: 1})
	ev := sampleBan()
	for b.Loop() {
		n.Send(ev)
	}
}
