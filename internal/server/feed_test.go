package server

import (
	"testing"
	"time"

	"warden/internal/source"
)

// TestFeed: a feed takes what is queued, waits its linger for a late line
// only while its batch is younger than its span, stops at its limit and
// notices a closed channel. The linger is long here (a loaded machine may
// delay the late line's sender by milliseconds).
func TestFeed(t *testing.T) {
	const linger, span = 300 * time.Millisecond, time.Second
	line := func(s string) source.Line { return source.Line{Text: s} }
	tests := []struct {
		name    string
		queued  []string
		late    string        // sent after lateIn, when not ""
		lateIn  time.Duration // after start
		age     time.Duration // the batch's age when next is first called
		left    int
		close   bool // close the channel after the queued lines
		want    []string
		closed  bool
		waitMin time.Duration // the calls together took at least this
	}{
		{name: "queued lines", queued: []string{"a", "b"}, left: 10, want: []string{"a", "b"}, waitMin: linger},
		{name: "limit", queued: []string{"a", "b", "c"}, left: 2, want: []string{"a", "b"}},
		{name: "late line within the linger", queued: []string{"a"}, late: "b", lateIn: 5 * time.Millisecond, left: 10, want: []string{"a", "b"}},
		{name: "late line after the span", queued: []string{"a"}, late: "b", lateIn: 5 * linger, age: span, left: 10, want: []string{"a"}},
		{name: "closed", queued: []string{"a"}, close: true, left: 10, want: []string{"a"}, closed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan source.Line, 8)
			for _, q := range tc.queued {
				ch <- line(q)
			}
			if tc.close {
				close(ch)
			}
			f := newFeed(ch)
			f.linger, f.span = linger, span
			f.start(tc.left)
			f.began = f.began.Add(-tc.age)
			if tc.late != "" {
				go func() {
					time.Sleep(tc.lateIn)
					ch <- line(tc.late)
				}()
			}
			began := time.Now()
			var got []string
			for {
				l, ok := f.next()
				if !ok {
					break
				}
				got = append(got, l.Text)
			}
			took := time.Since(began)
			if len(got) != len(tc.want) || f.extra != len(tc.want) {
				t.Fatalf("got %q (extra %d), want %q", got, f.extra, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
			if f.closed != tc.closed {
				t.Errorf("closed = %v, want %v", f.closed, tc.closed)
			}
			if took < tc.waitMin {
				t.Errorf("gave up after %v, want a linger of at least %v", took, tc.waitMin)
			}
			if took > 2*linger {
				t.Errorf("took %v", took)
			}
		})
	}
}

// TestFeedPoll: poll never waits.
func TestFeedPoll(t *testing.T) {
	ch := make(chan source.Line, 1)
	f := newFeed(ch)
	f.start(10)
	// A poll that lingers takes feedLinger every time; one that does not
	// is quicker at least once in three tries, even if the scheduler
	// delays one of them on a busy machine.
	fastest := time.Duration(1<<63 - 1)
	for range 3 {
		began := time.Now()
		if _, ok := f.poll(); ok {
			t.Fatal("poll of an empty channel took a line")
		}
		fastest = min(fastest, time.Since(began))
	}
	if fastest >= feedLinger {
		t.Errorf("poll waited %v at the quickest of three", fastest)
	}
	ch <- source.Line{Text: "x"}
	if l, ok := f.poll(); !ok || l.Text != "x" || f.extra != 1 {
		t.Errorf("poll = %q, %v (extra %d), want the queued line", l.Text, ok, f.extra)
	}
}
