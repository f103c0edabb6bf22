package server

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/store"
)

// TestNativeJailStoresMatches: a jail whose only action is a native
// firewall stores the matched lines of a ban made from lines that came one
// by one (the database's history is their reader), and none for the bans
// of a flood's batch, which would cost the flood a second and 40 MB at
// 100,000 addresses.
func TestNativeJailStoresMatches(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := loadTreeIn(t, dir, map[string]string{
		"app.log":              "",
		"filter.d/app.conf":    "[Definition]\nfailregex = login failed from <HOST>(?: try \\d+)?$\n",
		"action.d/fakefw.conf": "[Definition]\n",
		"jail.conf": "[DEFAULT]\nbackend = polling\nignoreself = false\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\n" +
			"[app]\nenabled = true\nfilter = app\naction = fakefw\nlogpath = " + logPath + "\n",
	})
	opened := map[string]*fakeBackend{}
	kind := fakeKind("fake", opened)
	kind.Actions = []string{"fakefw"}
	dbPath := filepath.Join(dir, "w.db")
	_, stop := startServer(t, Options{Config: cfg, DBPath: dbPath, Socket: filepath.Join(dir, "w.sock"),
		kinds: []nativeKind{kind}, ServicesPath: writeServices(t)}, nil)
	fw := opened["fake"]
	if fw == nil {
		t.Fatal("the fake native backend was not opened")
	}
	banned := func(n int) func() bool {
		return func() bool { fw.mu.Lock(); defer fw.mu.Unlock(); return len(fw.bans) >= n }
	}

	for i := range 3 {
		appendLines(t, logPath, fmt.Sprintf("login failed from 192.0.2.1 try %d", i))
		time.Sleep(50 * time.Millisecond) // one line a read
	}
	waitUntil(t, "the lone address is banned", banned(1))

	// 100 addresses × 3 failures in one write: one batch of 300 lines.
	// One write call (appendLines makes one a line, and a read between
	// them split the flood into small batches, which keep their lines).
	var flood strings.Builder
	stamp := time.Now().Format("2006-01-02 15:04:05")
	for i := range 100 {
		for range 3 {
			fmt.Fprintf(&flood, "%s login failed from 198.51.100.%d\n", stamp, i+1)
		}
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(flood.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the flood is banned", banned(101))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(context.Background(), dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[netip.Addr][]string{}
	err = st.EachActiveBan(context.Background(), time.Now(), nil, func(b store.Ban) error {
		got[b.Prefix.Addr()] = b.Matches
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 101 {
		t.Fatalf("%d bans stored, want 101", len(got))
	}
	lone := got[netip.MustParseAddr("192.0.2.1")]
	if len(lone) != 3 || !strings.HasSuffix(lone[0], "login failed from 192.0.2.1 try 0") {
		t.Errorf("lone ban's matches %q, want its three lines", lone)
	}
	if m := got[netip.MustParseAddr("198.51.100.7")]; len(m) != 0 {
		t.Errorf("a flood ban kept %d matched lines, want none", len(m))
	}
}
