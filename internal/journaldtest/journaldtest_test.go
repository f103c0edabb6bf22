package journaldtest

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestStartWriteHas: once Start says a journald serves, entries written
// under a fresh identifier are read back, and an identifier never written
// has none.
func TestStartWriteHas(t *testing.T) {
	stop, reason := Start()
	defer stop()
	if reason != "" {
		t.Skip(reason)
	}
	ident := fmt.Sprintf("wjdt-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if err := Write(ident, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	if !Has(ident, 2) {
		t.Error("two entries written, not both read back")
	}
	if Has(ident+"-never", 1) {
		t.Error("an identifier never written has entries")
	}
}
