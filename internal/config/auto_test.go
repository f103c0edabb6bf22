package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBanactionAuto(t *testing.T) {
	tests := []struct {
		name    string
		autoDef string // action.d/auto.conf, "" = none
		action  string
		err     error
		params  map[string]string // checked when err is nil
		cmds    int
	}{
		{name: "auto without a file", action: "%(action_)s",
			params: map[string]string{"port": "ssh", "protocol": "tcp", "chain": "INPUT", "name": "j", "actname": "auto"}},
		{name: "an auto.conf wins", autoDef: "[Definition]\nactionban = echo <ip>\n", action: "%(action_)s", cmds: 1},
		{name: "other names still fail", action: "nosuch", err: ErrMissingAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"filter.d/f.conf": "[Definition]\nfailregex = ^x <HOST>$\n",
				"jail.conf": "[DEFAULT]\nbanaction = auto\nport = 0:65535\nprotocol = tcp\nchain = INPUT\n" +
					"action_ = %(banaction)s[port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]\n" +
					"[j]\nenabled = true\nfilter = f\nlogpath = /dev/null\nport = ssh\naction = " + tt.action + "\n",
			}
			if tt.autoDef != "" {
				files["action.d/auto.conf"] = tt.autoDef
			}
			for name, text := range files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(os.DirFS(dir), Options{Root: dir})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.Jails[0].Actions[0]
			if a.Name != AutoAction || len(a.Commands) != tt.cmds {
				t.Fatalf("action %q with %d commands, want %q with %d", a.Name, len(a.Commands), AutoAction, tt.cmds)
			}
			for k, v := range tt.params {
				if a.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, a.Params[k], v)
				}
			}
		})
	}
}
