package datetime

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// memoPair is a detector with the stamp memo and one without, on one
// stepping clock.
type memoPair struct {
	with, without *Detector
	clock         time.Time
}

func newMemoPair(t testing.TB, pattern string) *memoPair {
	t.Helper()
	p := &memoPair{clock: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)}
	now := func() time.Time { return p.clock }
	var err error
	if p.with, err = New(Options{Pattern: pattern, Now: now, Location: time.UTC}); err != nil {
		t.Fatal(err)
	}
	p.without, _ = New(Options{Pattern: pattern, Now: now, Location: time.UTC})
	p.without.noStampMemo = true
	return p
}

// agree runs lines through both detectors and fails on the first line
// where their matches or their template statistics differ; it returns
// how many lines the memo answered.
func (p *memoPair) agree(t testing.TB, lines []string) (repeats int) {
	t.Helper()
	for i, l := range lines {
		p.clock = p.clock.Add(300 * time.Millisecond) // the second moves every few lines
		if p.with.stamp.same(l) {
			repeats++
		}
		m1, ok1 := p.with.Find(l)
		m2, ok2 := p.without.Find(l)
		if ok1 != ok2 || !reflect.DeepEqual(m1, m2) {
			t.Fatalf("line %d %q: with memo %v %+v, without %v %+v", i+1, l, ok1, m1, ok2, m2)
		}
		if a, b := p.with.Templates(), p.without.Templates(); !reflect.DeepEqual(a, b) {
			t.Fatalf("line %d %q: template statistics differ:\n%+v\n%+v", i+1, l, a, b)
		}
	}
	return repeats
}

func TestStampMemo(t *testing.T) {
	for _, tc := range []struct {
		name, pattern string
		lines         []string
		repeats       int // lines the memo answers
	}{
		{"same second", "{^LN-BEG}", []string{
			"Nov 27 06:25:00 srv01 sshd[1]: a",
			"Nov 27 06:25:00 srv01 sshd[2]: b",
			"Nov 27 06:25:00 srv01 CRON[3]: c",
		}, 1}, // the first line finds the template; the second sets the memo
		{"next second", "{^LN-BEG}", []string{
			"Nov 27 06:25:00 srv01 sshd[1]: a",
			"Nov 27 06:25:01 srv01 sshd[2]: b",
			"Nov 27 06:25:01 srv01 sshd[2]: c",
		}, 1},
		{"fraction or year after the stamp", "{^LN-BEG}", []string{
			"Nov 27 06:25:00 srv01 a",
			"Nov 27 06:25:00.123 srv01 b",
			"Nov 27 06:25:00 2026 srv01 c",
			"Nov 27 06:25:00 2026 srv01 d",
			"Nov 27 06:25:00 srv01 e",
		}, 0},
		{"line ends at or just after the stamp", "{^LN-BEG}", []string{
			"Nov 27 06:25:00",
			"Nov 27 06:25:00",
			"Nov 27 06:25:00 ",
			"Nov 27 06:25:00 ",
			"Nov 27 06:25:00 x",
			"Nov 27 06:25:00",
		}, 1},
		{"word or non-ASCII right after", "{^LN-BEG}", []string{
			"Nov 27 06:25:00 a",
			"Nov 27 06:25:00x a",
			"Nov 27 06:25:00é a",
			"Nov 27 06:25:00 a",
		}, 0},
		{"template changes in between", "{^LN-BEG}", []string{
			"Nov 27 06:25:00 srv01 a",
			"2026-11-27T06:25:00.123456+00:00 srv01 b",
			"Nov 27 06:25:00 srv01 c",
			"Nov 27 06:25:00 srv01 d",
			"srv01 no date at all",
			"Nov 27 06:25:00 srv01 e",
		}, 0},
		{"weekday", "{^LN-BEG}", []string{
			"Fri Nov 27 06:25:00 srv01 a",
			"Fri Nov 27 06:25:00 srv01 b",
			"Fri Nov 27 06:25:00 srv01 c",
			"Nov 27 06:25:00 srv01 d",
		}, 1},
		{"default templates", "", []string{
			"Nov 27 06:25:00 srv01 a",
			"Nov 27 06:25:00 srv01 b",
			"Nov 27 06:25:00 srv01 c",
		}, 1}, // the defaults hold a line-anchored syslog template too
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newMemoPair(t, tc.pattern).agree(t, tc.lines); got != tc.repeats {
				t.Errorf("the memo answered %d lines, want %d", got, tc.repeats)
			}
		})
	}
}

// FuzzStampMemo: lines separated by newlines, with and without the memo
// (the two detectors carry their state from one input to the next).
func FuzzStampMemo(f *testing.F) {
	anchored, all := newMemoPair(f, "{^LN-BEG}"), newMemoPair(f, "")
	f.Add("Nov 27 06:25:00 a\nNov 27 06:25:00 b\nNov 27 06:25:00.5 c\nNov 27 06:25:00")
	f.Add("Fri Nov 27 06:25:00 a\nFri Nov 27 06:25:00 b\n2026-11-27 06:25:00 c\nFri Nov 27 06:25:00 d")
	f.Add("Jan  2 01:02:03 x\nJan  2 01:02:03 x\nJan  2 01:02:03  7\nJan  2 01:02:03 x")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		anchored.agree(t, strings.Split(s, "\n"))
		all.agree(t, strings.Split(s, "\n"))
	})
}
