package main

import (
	"testing"

	"warden/internal/config"
)

// TestBuiltinTreeLoads checks that the tree built into the binary is valid
// with every jail enabled.
func TestBuiltinTreeLoads(t *testing.T) {
	fsys, ok := builtinConfTree()
	if !ok {
		t.Skip("no built-in tree")
	}
	cfg, err := config.Load(fsys, config.Options{Root: "/etc/warden", ForceEnable: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Jails) == 0 {
		t.Fatal("built-in tree has no jails")
	}
	for _, w := range cfg.Warnings {
		t.Logf("warning: %s", w)
	}
}
