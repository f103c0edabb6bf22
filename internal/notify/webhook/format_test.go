package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJSONCapsMatches(t *testing.T) {
	ev := sampleBan()
	ev.Matches = nil
	for range 80 {
		ev.Matches = append(ev.Matches, strings.Repeat("é", 600)) // 1200 bytes
	}
	b, _, err := render(FormatJSON, message{events: []Event{ev}})
	if err != nil {
		t.Fatal(err)
	}
	var body jsonBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	m := body.Events[0].Matches
	if len(m) != maxMatches {
		t.Errorf("%d matches", len(m))
	}
	for _, l := range m {
		if len(l) > maxMatchLen || !utf8.ValidString(l) || len(l) < maxMatchLen-1 {
			t.Fatalf("match of %d bytes", len(l))
		}
	}
}

func TestCut(t *testing.T) {
	long := strings.Repeat("ü", 10000)
	for _, f := range []Format{FormatSlack, FormatDiscord, FormatNtfy, FormatMatrix} {
		got := cut(long, maxText[f])
		if len(got) > maxText[f] || !utf8.ValidString(got) || !strings.HasSuffix(got, "… (cut)") {
			t.Errorf("%s: cut to %d bytes", f, len(got))
		}
	}
	if cut("short", 100) != "short" {
		t.Error("short text changed")
	}
}
