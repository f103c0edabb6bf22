package action

import (
	"context"
	"testing"
)

// BenchmarkProlong measures substitution and bookkeeping for one command
// with a hostile user name and matches (two variables), recorded not run.
func BenchmarkProlong(b *testing.B) {
	a, rec := newTest(b, "[Definition]\nactionprolong = p <ip> <F-USER> \"<matches>\" <time> <name>\n", "", Options{})
	tk := Ticket{Addr: mustAddr("192.0.2.1"), Fields: map[string]string{"user": hostile}, Matches: []string{hostile, hostile}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Prolong(ctx, tk); err != nil {
			b.Fatal(err)
		}
		if len(rec.cmds) != 1 || len(rec.cmds[0].cmd.Args) != 2 {
			b.Fatalf("ran %q", rec.scripts())
		}
		rec.cmds = rec.cmds[:0]
	}
}

// BenchmarkShellRunner is the cost of one /bin/sh -c run with arguments.
func BenchmarkShellRunner(b *testing.B) {
	c := Command{Script: "v=$0 \n: \"$v\"", Args: []string{hostile}}
	ctx := context.Background()
	for b.Loop() {
		if _, err := (ShellRunner{}).Run(ctx, c, DefaultTimeout); err != nil {
			b.Fatal(err)
		}
	}
}
