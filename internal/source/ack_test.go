package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestAcksOrder(t *testing.T) {
	type step struct {
		sent   int    // lines handed on before the step
		record string // key to record ("" for none)
		ack    int    // lines acknowledged in the step
		want   []string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing handed on: saved at once", []step{{record: "a#1", want: []string{"a#1"}}}},
		{"held until the lines are acknowledged", []step{
			{sent: 3, record: "a#1"},
			{ack: 2},
			{ack: 1, want: []string{"a#1"}},
		}},
		{"latest of a key only", []step{
			{sent: 1, record: "a#1"},
			{sent: 1, record: "a#2"},
			{sent: 1, record: "b#1"},
			{ack: 3, want: []string{"b#1", "a#2"}},
		}},
		{"released in steps", []step{
			{sent: 2, record: "a#1"},
			{sent: 2, record: "a#2"},
			{ack: 3, want: []string{"a#1"}},
			{ack: 1, want: []string{"a#2"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAcks()
			ctx := context.Background()
			var saved []string
			for i, s := range tt.steps {
				saved = saved[:0]
				a.handedOn(s.sent)
				if s.record != "" {
					key, v := s.record[:1], s.record
					if err := a.record(ctx, key, func(context.Context) error {
						saved = append(saved, v)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				if err := a.Done(ctx, s.ack); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(saved, s.want) {
					t.Fatalf("step %d: saved %q, want %q", i, saved, s.want)
				}
			}
		})
	}
}

func TestAcksSaveError(t *testing.T) {
	a := NewAcks()
	ctx := context.Background()
	a.handedOn(1)
	boom := errors.New("boom")
	if err := a.record(ctx, "k", func(context.Context) error { return boom }); err != nil {
		t.Fatalf("record before the ack: %v", err)
	}
	if err := a.Done(ctx, 1); !errors.Is(err, boom) {
		t.Fatalf("Done = %v, want the save's error", err)
	}
	if a.Pending() != 0 {
		t.Fatalf("Pending = %d", a.Pending())
	}
}

// TestFileAcks: with Acks, the saved position never runs ahead of the
// lines the consumer acknowledged, and reaches the end once all are.
func TestFileAcks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "")
	pos := newMemPositions()
	acks := NewAcks()
	o := fileOpts(ModePolling, FileSpec{Pattern: path})
	o.Positions, o.Acks = pos, acks
	src := newFileT(t, o)
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chan Line, 16)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, func() bool { _, ok := pos.get(path); return ok }, func() string { return "the start position" })
	appendFile(t, path, "l1\nl2\nl3\n")
	var got []Line
	for len(got) < 3 {
		select {
		case l := <-out:
			got = append(got, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("lines: %v", got)
		}
	}
	settle()
	if p, _ := pos.get(path); p.Offset != 0 {
		t.Fatalf("saved offset %d before any acknowledgement, want 0", p.Offset)
	}
	if err := acks.Done(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if p, _ := pos.get(path); p.Offset != 0 {
		t.Fatalf("saved offset %d with one line unacknowledged, want 0", p.Offset)
	}
	if err := acks.Done(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := pos.get(path); p.Offset != got[2].Offset || p.Offset != int64(len("l1\nl2\nl3\n")) {
		t.Fatalf("saved %+v after all acknowledged, want offset %d", p, got[2].Offset)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestJournalAcks: the journal cursor is saved only once its entry is
// acknowledged.
func TestJournalAcks(t *testing.T) {
	cur := &memCursors{}
	acks := NewAcks()
	ctx := context.Background()
	j := &Journal{opts: JournalOptions{Cursors: cur, Acks: acks}}
	st := &journalState{}
	acks.handedOn(1)
	st.cursor = "c1"
	j.save(ctx, st)
	if c, ok, _ := cur.Load(ctx); ok {
		t.Fatalf("cursor %q saved before its entry was acknowledged", c)
	}
	if err := acks.Done(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := cur.Load(ctx); !ok || c != "c1" {
		t.Fatalf("cursor %q %v after the acknowledgement, want c1", c, ok)
	}
}
