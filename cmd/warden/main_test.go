package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), []string{"warden", "version"}, os.Stdin, out, os.Stderr); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, _ := os.ReadFile(out.Name())
	if !strings.HasPrefix(string(b), "warden ") {
		t.Fatalf("version output %q", b)
	}
}
