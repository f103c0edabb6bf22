package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestMailQueue(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Unix(1_800_000_000, 0)
	for i := range 3 {
		m := QueuedMail{Time: at.Add(time.Duration(i) * time.Second), Sender: "fail2ban", Recipients: []string{"root", "a@example.org"},
			Message: []byte(fmt.Sprintf("Subject: %d\n\nbody\n", i)), Attempts: 5, LastError: "refused"}
		if err := s.PutMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMail(ctx, QueuedMail{Sender: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty mail: %v", err)
	}
	got, err := s.QueuedMails(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Message) != "Subject: 0\n\nbody\n" || got[1].Recipients[1] != "a@example.org" ||
		!got[0].Time.Equal(at) || got[0].Attempts != 5 || got[0].LastError != "refused" {
		t.Fatalf("queued %+v", got)
	}
	if err := s.MailFailed(ctx, got[0].ID, "again"); err != nil {
		t.Fatal(err)
	}
	if err := s.MailDone(ctx, got[1].ID); err != nil {
		t.Fatal(err)
	}
	left, _ := s.QueuedMails(ctx, 10)
	if n, err := s.CountMails(ctx); err != nil || n != 2 || len(left) != 2 || left[0].Attempts != 6 || left[0].LastError != "again" {
		t.Errorf("after done/failed: count %d %v, %+v", n, err, left)
	}
}
