package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConf: the start and every reload read the tree --conf chooses
// through loadConf; its errors name the directory or the file and line.
func TestLoadConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "jail.conf"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := write("good", "[DEFAULT]\nbantime = 1h\n[app]\nenabled = false\n")
	bad := write("bad", "[DEFAULT]\nbantime = 1h\nthis is not an option\n")
	notDir := filepath.Join(good, "jail.conf")
	tests := []struct {
		name, dir string
		note      string // in what note is told
		err       string // in the error; "" means success
	}{
		{"tree", good, "using configuration " + good, ""},
		{"missing", filepath.Join(dir, "none"), "", "--conf: "},
		{"not a directory", notDir, "", "not a directory"},
		{"syntax error", bad, "using configuration " + bad, "jail.conf:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var note strings.Builder
			cfg, err := loadConf(tt.dir, &note)
			if !strings.Contains(note.String(), tt.note) {
				t.Errorf("note %q, want %q in it", note.String(), tt.note)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q in it", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Root != tt.dir || len(cfg.Files) != 1 || !strings.HasSuffix(cfg.Files[0], "jail.conf") {
				t.Errorf("root %s, files %q", cfg.Root, cfg.Files)
			}
		})
	}
}
