package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bytes through the server's read path:
// framing, envelope decoding and command parsing must never panic, must
// respect the size cap, and an accepted request must survive re-encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"id":1,"command":["ping"]}` + "\n",
		`{"version":1,"id":2,"command":["set","sshd","banip","192.0.2.1","2001:db8::1"]}` + "\r\n",
		`{"version":1,"id":3,"command":["status","--all","short"],"options":{"x":"y"}}` + "\n\n",
		`{"version":1,"id":4,"command":["reload","--restart","--unban","sshd"]}`,
		`{"version":1,"id":` + "\n",
		`{"version":2,"command":["ping"]}` + "\n",
		"\x00\xff\n",
		`[1,2,3]` + "\n",
		`{"version":1,"id":5,"command":["get","sshd","banned","::ffff:10.0.0.1"]}` + "\n",
		strings.Repeat("x", 300) + "\n",
	} {
		f.Add([]byte(s))
	}
	const max = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for {
			line, err := ReadFrame(br, max)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("unexpected frame error %v", err)
				}
				return
			}
			if len(line) > max {
				t.Fatalf("frame of %d bytes passed a %d cap", len(line), max)
			}
			req, err := DecodeRequest(line)
			if err != nil {
				if errorFor(err).Code == CodeInternal {
					t.Fatalf("decode error %v has no protocol code", err)
				}
				continue
			}
			b, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeRequest(b)
			if err != nil || !reflect.DeepEqual(again.Command, req.Command) || again.ID != req.ID {
				t.Fatalf("re-encoded request %s decodes to %+v, %v", b, again, err)
			}
			checkParse(t, req.Command)
		}
	})
}

// FuzzParseCommand checks that parsing arbitrary words never panics and
// that every accepted command round-trips through Words.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"status sshd short", "set sshd unbanip --report-absent 192.0.2.1", "get sshd banip --with-time",
		"reload --if-exists --all", "restart --unban sshd", "set sshd addignoreip example.org 10.0.0.0/8",
		"banned ::1 192.0.2.1", "unban --all", "set loglevel INFO", "set sshd bantime 1d-2h",
		"stop", "ping 0.1", "set sshd attempt 192.0.2.1 failure line",
		"set sshd unbanip 2001:db8:1:2::/64", "banned ::ffff:192.0.2.0/120 192.0.2.0/24",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkParse(t, strings.Split(s, " "))
	})
}

func checkParse(t *testing.T, words []string) {
	t.Helper()
	c, err := ParseCommand(words)
	if err != nil {
		if errorFor(err).Code == CodeInternal {
			t.Fatalf("%q: parse error %v has no protocol code", words, err)
		}
		return
	}
	again, err := ParseCommand(c.Words())
	if err != nil || !reflect.DeepEqual(again, c) {
		t.Fatalf("%q parses to %+v; its Words %q parse to %+v, %v", words, c, c.Words(), again, err)
	}
}

// FuzzParseTarget: what ParseTarget accepts is masked, has no zone and no
// IPv4-mapped form, and its Target text reads back as the same prefix.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8:1:2::5/64", "::ffff:192.0.2.9/120", "::/0",
		"fe80::1%eth0", "10.0.0.0/33", "1.2.3.4/", "/24", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("%q: error %v is not ErrBadAddress", s, err)
			}
			return
		}
		if p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() || p.Bits() == 0 {
			t.Fatalf("%q parses to %v", s, p)
		}
		text := TargetOf(p).String()
		again, err := ParseTarget(text)
		if err != nil || again != p {
			t.Fatalf("%q parses to %v, written %q, which reads back as %v, %v", s, p, text, again, err)
		}
	})
}
