package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"warden/internal/notify/whois"
	"warden/internal/notify/whois/whoistest"
)

func TestWhoisEnrichment(t *testing.T) {
	ws := whoistest.Start(t, "inetnum: 192.0.2.0 - 192.0.2.255\nnetname: LOOKED-UP\ncountry: ZZ\n")
	srv := ws.Addr()
	tests := []struct {
		name    string
		server  string
		digest  time.Duration
		bans    int
		netname string // of every event
		queries int64
	}{
		{"single event", srv, 0, 1, "LOOKED-UP", 1},
		{"digest looks up each address once", srv, 100 * time.Millisecond, 3, "LOOKED-UP", 1},
		{"whois off: delivered without", "off", 0, 1, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ws.Queries()
			e := newEndpoint(t)
			wc := whois.New(whois.Config{Server: tt.server, QueryTimeout: time.Second})
			n := New([]Target{{Name: "w", URL: e.srv.URL, Format: FormatJSON, Timeout: time.Second, Digest: tt.digest}},
				Options{Whois: WhoisFunc(wc)})
			start(t, n)
			for range tt.bans {
				ev := sampleBan()
				ev.Whois = nil
				n.Send(ev)
			}
			var body jsonBody
			if err := json.Unmarshal(e.next(t).Body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Events) != tt.bans {
				t.Fatalf("%d events", len(body.Events))
			}
			for _, ev := range body.Events {
				got := ""
				if ev.Whois != nil {
					got = ev.Whois.NetName
				}
				if got != tt.netname {
					t.Errorf("netname %q, want %q", got, tt.netname)
				}
			}
			if q := ws.Queries() - before; q != tt.queries {
				t.Errorf("%d whois queries, want %d", q, tt.queries)
			}
		})
	}
}
