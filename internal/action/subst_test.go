package action

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestContextAt(t *testing.T) {
	tests := []struct {
		prefix string
		want   shCtx
	}{
		{"echo ", ctxPlain},
		{`echo "a `, ctxDouble},
		{`echo 'a `, ctxSingle},
		{`echo 'a' "b" `, ctxPlain},
		{`echo "it's `, ctxDouble},
		{`echo 'say "`, ctxSingle},
		{`echo \' `, ctxPlain},
		{`echo "\" `, ctxDouble},
		{`echo "$(printf '%s' `, ctxPlain},
		{`echo "$(printf '%s' "`, ctxDouble},
		{`echo "$(printf '%s' ')' `, ctxPlain},
		{`echo "$( (true) ) `, ctxDouble},
		{"echo `echo ", ctxPlain},
		{"echo \"`echo '", ctxSingle},
		{"x=${a:-", ctxPlain},
		{`x="${a:-`, ctxDouble},
		{"# comment ", ctxInert},
		{"echo a#b ", ctxPlain},
		{"echo a # comment ", ctxInert},
		{"# comment\necho ", ctxPlain},
		{"cat <<EOF\nline ", ctxDouble},
		{"cat <<'EOF'\nline ", ctxInert},
		{"cat <<\"EOF\"\nline ", ctxInert},
		{"cat <<\\EOF\nline ", ctxInert},
		{"cat <<-EOF\n\tx\n\tEOF\necho '", ctxSingle},
		{"cat <<EOF\nx\nEOF\necho ", ctxPlain},
		{"cat <<A <<'B'\na\nA\nb ", ctxInert},
		{"cat <<A; echo x\nbody ", ctxDouble},
		{"cat <<A; echo 'still\nquoted ", ctxSingle},
		{"echo $((1+", ctxPlain},
	}
	for _, tc := range tests {
		if got := contextAt(tc.prefix); got != tc.want {
			t.Errorf("contextAt(%q) = %d, want %d", tc.prefix, got, tc.want)
		}
	}
}

func TestStaticSubstitution(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		cond  string
		query string
		want  string
		err   error
	}{
		{"nested", map[string]string{"a": "<b>-<c>", "b": "B", "c": "<b>C"}, "", "<a>", "B-BC", nil},
		{"composed name", map[string]string{"a": "<x-<m>>", "m": "2", "x-2": "two"}, "", "<a>", "two", nil},
		{"unknown stays", map[string]string{"a": "<ip> <b>", "b": "B"}, "", "<a>", "<ip> B", nil},
		{"conditional wins", map[string]string{"a": "<b>", "b": "4", "b?family=inet6": "6"}, "family=inet6", "<a>", "6", nil},
		{"conditional ignored without family", map[string]string{"a": "<b>", "b": "4", "b?family=inet6": "6"}, "", "<a>", "4", nil},
		{"br and sp", map[string]string{"a": "x<br>y<sp>z"}, "", "<a>", "x\ny z", nil},
		{"static matches escaped", map[string]string{"a": "m=<matches>", "matches": "a;b"}, "", "<a>", `m=a\;b`, nil},
		{"self reference", map[string]string{"a": "<b>", "b": "<a>"}, "", "<a>", "", ErrRecursive},
		{"tag built from parts", map[string]string{"a": "<<n>>", "n": "b", "b": "done"}, "", "<a>", "done", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := newProps(tc.props).resolve(tc.cond)
			var got string
			if err == nil {
				got, err = expandStatic(tc.query, res, tc.cond, extraTags{})
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLazyValues: expensive values are asked for only when a command uses
// their tag, and once per operation.
func TestLazyValues(t *testing.T) {
	a, rec := newTest(t, "[Definition]\nactionban = b <ipmatches> <ipmatches> <ipfailures> <ip-host>\nactionunban = u <ip>\n", "", Options{})
	calls := map[string]int{}
	tk := Ticket{
		Addr:       mustAddr("192.0.2.9"),
		IPMatches:  func(context.Context) []string { calls["ipmatches"]++; return []string{"m1", "m2"} },
		IPFailures: func(context.Context) int { calls["ipfailures"]++; return 9 },
		IPJailMatches: func(context.Context) []string {
			calls["ipjailmatches"]++
			return nil
		},
		Host: func(_ context.Context, a netip.Addr) (string, error) { calls["host"]++; return "h.example", nil },
	}
	ctx := context.Background()
	if err := a.Ban(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := a.Unban(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if calls["ipmatches"] != 1 || calls["ipfailures"] != 1 || calls["host"] != 1 || calls["ipjailmatches"] != 0 {
		t.Fatalf("calls %v", calls)
	}
	want := []string{"f2bV_ipmatches=$0 \nb \"$f2bV_ipmatches\" \"$f2bV_ipmatches\" 9 h.example", "u 192.0.2.9"}
	if got := rec.take(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ran %q, want %q", got, want)
	}
}
