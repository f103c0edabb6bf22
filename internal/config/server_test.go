package config

import (
	"testing"
	"testing/fstest"
)

func TestServerSections(t *testing.T) {
	fsys := fstest.MapFS{
		"jail.conf": {Data: []byte("[DEFAULT]\n")},
		"fail2ban.conf": {Data: []byte("[Definition]\nloglevel = INFO\nsocket = /run/w.sock\n\n" +
			"[mail]\nsmtp = localhost:25\ndigest = 15m\n")},
		"fail2ban.local": {Data: []byte("[mail]\ndigest = 1h\nalert = %(digest)s\n\n[webhook:ops]\nurl = http://127.0.0.1:9/x\n")},
	}
	cfg, err := Load(fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.Socket != "/run/w.sock" {
		t.Errorf("socket = %q", s.Socket)
	}
	for _, tc := range []struct{ sec, key, want, file string }{
		{"mail", "smtp", "localhost:25", "fail2ban.conf"},
		{"mail", "digest", "1h", "fail2ban.local"},
		{"mail", "alert", "1h", "fail2ban.local"},
		{"webhook:ops", "url", "http://127.0.0.1:9/x", "fail2ban.local"},
	} {
		got, ok := s.Sections[tc.sec][tc.key]
		if !ok || got.Value != tc.want || got.Pos.File != tc.file {
			t.Errorf("[%s] %s = %+v (present %v), want %q from %s", tc.sec, tc.key, got, ok, tc.want, tc.file)
		}
	}
	if _, ok := s.Sections["Definition"]; ok {
		t.Error("[Definition] listed among the other sections")
	}
}
