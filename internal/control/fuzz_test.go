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
