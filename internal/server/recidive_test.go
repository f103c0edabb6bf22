package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"warden/internal/control"
	"warden/internal/defaults"
)

// TestRecidiveReadsOwnLog runs a server whose log (fail2ban's layout, as
// `warden server` writes it) is the log of its recidive jail: jail "app"
// bans one address three times (one-second bans), and recidive, with
// fail2ban's installed filter or with warden's embedded one, bans it after
// its third ban and not before.
func TestRecidiveReadsOwnLog(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(name string) ([]byte, error)
	}{
		{"fail2ban filter", func(name string) ([]byte, error) { return os.ReadFile("/etc/fail2ban/" + name) }},
		{"warden filter", func(name string) ([]byte, error) { return fs.ReadFile(defaults.FS(), name) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{
				"app.log":           "",
				"filter.d/app.conf": "[Definition]\nfailregex = login failed from <HOST>$\n",
			}
			for _, f := range []string{"filter.d/recidive.conf", "filter.d/common.conf"} {
				b, err := tc.read(f)
				if err != nil {
					t.Skipf("needs the recidive filter: %v", err)
				}
				files[f] = string(b)
			}
			dir := t.TempDir()
			logPath, serverLog := filepath.Join(dir, "app.log"), filepath.Join(dir, "server.log")
			files["action.d/record.conf"] = "[Definition]\nactionban = echo ban <ip> >> " + filepath.Join(dir, "record") + "\n"
			files["jail.conf"] = "[DEFAULT]\nbackend = auto\nignoreself = false\naction = record\n" +
				"[app]\nenabled = true\nfilter = app\nlogpath = " + logPath + "\nmaxretry = 1\nfindtime = 10m\nbantime = 1\n" +
				"[recidive]\nenabled = true\nfilter = recidive\nlogpath = " + serverLog + "\nmaxretry = 3\nfindtime = 1d\nbantime = 1w\n"
			srvLog, logger := newTextLog(t, serverLog)
			cfg := loadTreeIn(t, dir, files)
			ctx, _ := startServer(t, Options{Config: cfg, DBPath: filepath.Join(dir, "w.db"), Socket: filepath.Join(dir, "w.sock"),
				Logger: logger}, nil)
			readLog, waitLog := srvLog.read, srvLog.wait
			waitLog("server ready", 1)
			c, err := control.Dial(ctx, filepath.Join(dir, "w.sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			const ip = "192.0.2.7"
			for i := 1; i <= 3; i++ {
				appendLines(t, logPath, "login failed from "+ip)
				s := waitLog("[app] Ban "+ip+"\n", i)
				if i == 3 {
					break
				}
				// recidive counts the ban as a failure, which must not
				// be enough to ban yet.
				deadline := time.Now().Add(10 * time.Second)
				for {
					st, err := c.JailStatus(ctx, "recidive", "")
					if err != nil {
						t.Fatal(err)
					}
					if st.CurrentlyBanned != 0 {
						t.Fatalf("recidive banned after %d bans of app:\n%s", i, readLog())
					}
					if st.TotalFailed == i {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("recidive counted %d failures, want %d; log:\n%s", st.TotalFailed, i, s)
					}
					time.Sleep(20 * time.Millisecond)
				}
				waitLog("[app] Unban "+ip+"\n", i)
			}
			s := waitLog("NOTICE  [recidive] Ban "+ip+"\n", 1)
			st, err := c.JailStatus(ctx, "recidive", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.BannedIPs) != 1 || st.BannedIPs[0].String() != ip {
				t.Errorf("recidive bans %v, want [%s]\nlog:\n%s", st.BannedIPs, ip, s)
			}
		})
	}
}
