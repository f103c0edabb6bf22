package source

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Entry
		err  bool
	}{
		{"strings", `{"MESSAGE":"hi","_PID":"12"}`, Entry{"MESSAGE": {"hi"}, "_PID": {"12"}}, false},
		{"bytes", `{"MESSAGE":[255,104,105]}`, Entry{"MESSAGE": {"\xffhi"}}, false},
		{"null dropped", `{"MESSAGE":null,"A":"b"}`, Entry{"A": {"b"}}, false},
		{"repeated", `{"MESSAGE":["a",[98,255],"c"]}`, Entry{"MESSAGE": {"a", "b\xff", "c"}}, false},
		{"empty array", `{"X":[]}`, Entry{"X": {""}}, false},
		{"escapes", `{"MESSAGE":"tab\there \u00e9"}`, Entry{"MESSAGE": {"tab\there é"}}, false},
		{"byte out of range", `{"MESSAGE":[256]}`, nil, true},
		{"nested too deep", `{"MESSAGE":[["a"]]}`, nil, true},
		{"number value", `{"MESSAGE":5}`, nil, true},
		{"not an object", `["MESSAGE"]`, nil, true},
		{"truncated", `{"MESSAGE":"a`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEntry([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrEntry) {
					t.Fatalf("err = %v, want ErrEntry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestFormatEntry(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"full", Entry{"_HOSTNAME": {"web1"}, "SYSLOG_IDENTIFIER": {"sshd"}, "_PID": {"812"}, "MESSAGE": {"Invalid user x"}},
			"web1 sshd[812]: Invalid user x"},
		{"syslog pid wins", Entry{"SYSLOG_IDENTIFIER": {"sshd"}, "SYSLOG_PID": {"7"}, "_PID": {"8"}, "MESSAGE": {"m"}},
			"sshd[7]: m"},
		{"comm when no identifier", Entry{"_COMM": {"dovecot"}, "MESSAGE": {"m"}}, "dovecot: m"},
		{"no ident", Entry{"_HOSTNAME": {"h"}, "MESSAGE": {"m"}}, "h m"},
		{"hex pid", Entry{"SYSLOG_IDENTIFIER": {"a"}, "SYSLOG_PID": {"0x1f"}, "MESSAGE": {"m"}}, "a[31]: m"},
		{"text pid", Entry{"SYSLOG_IDENTIFIER": {"a"}, "SYSLOG_PID": {"abc"}, "MESSAGE": {"m"}}, "a[abc]: m"},
		{"leading zero pid", Entry{"SYSLOG_IDENTIFIER": {"a"}, "SYSLOG_PID": {"017"}, "MESSAGE": {"m"}}, "a[17]: m"},
		{"octal pid", Entry{"SYSLOG_IDENTIFIER": {"a"}, "SYSLOG_PID": {"0o17"}, "MESSAGE": {"m"}}, "a[15]: m"},
		{"bare zero pid", Entry{"SYSLOG_IDENTIFIER": {"a"}, "SYSLOG_PID": {"0"}, "MESSAGE": {"m"}}, "a[0]: m"},
		{"kernel", Entry{"SYSLOG_IDENTIFIER": {"kernel"}, "__MONOTONIC_TIMESTAMP": {"12345678"}, "MESSAGE": {"oops"}},
			"kernel: [   12.345678] oops"},
		{"kernel source monotonic", Entry{"SYSLOG_IDENTIFIER": {"kernel"}, "_SOURCE_MONOTONIC_TIMESTAMP": {"1000000"},
			"__MONOTONIC_TIMESTAMP": {"9"}, "MESSAGE": {"x"}}, "kernel: [    1.000000] x"},
		{"repeated message", Entry{"MESSAGE": {"a", "b"}}, "a b"},
		{"newline escaped", Entry{"MESSAGE": {"a\nb"}}, `a\nb`},
		{"no message", Entry{"SYSLOG_IDENTIFIER": {"a"}}, "a: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatEntry(tt.e); got != tt.want {
				t.Errorf("FormatEntry = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEntryTime(t *testing.T) {
	e := Entry{"__REALTIME_TIMESTAMP": {"1700000000123456"}}
	if got, ok := e.Time(); !ok || !got.Equal(time.UnixMicro(1700000000123456)) {
		t.Errorf("journald time = %v %v", got, ok)
	}
	e["_SOURCE_REALTIME_TIMESTAMP"] = []string{"1600000000000001"}
	if got, _ := e.Time(); !got.Equal(time.UnixMicro(1600000000000001)) {
		t.Errorf("source time not preferred: %v", got)
	}
	if _, ok := (Entry{}).Time(); ok {
		t.Error("time of an entry without timestamps")
	}
}

func TestCursorTime(t *testing.T) {
	got, ok := cursorTime("s=abc;i=15;b=def;m=980195d9;t=661410ddc6585;x=2a")
	if !ok || !got.Equal(time.UnixMicro(0x661410ddc6585)) {
		t.Errorf("cursorTime = %v %v", got, ok)
	}
	if _, ok := cursorTime("garbage"); ok {
		t.Error("time from a cursor without t=")
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"MESSAGE":"Failed password","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"1","__REALTIME_TIMESTAMP":"1700000000000000"}`))
	f.Add([]byte(`{"MESSAGE":[255,0,10],"SYSLOG_IDENTIFIER":"kernel","__MONOTONIC_TIMESTAMP":"77"}`))
	f.Add([]byte(`{"MESSAGE":["a",[1,2],null],"SYSLOG_PID":"0x10"}`))
	f.Add([]byte(`{"MESSAGE":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			if !errors.Is(err, ErrEntry) {
				t.Fatalf("error %v is not ErrEntry", err)
			}
			return
		}
		for k, v := range e {
			if len(v) == 0 {
				t.Fatalf("field %s kept without values", k)
			}
		}
		line := FormatEntry(e)
		for i := 0; i < len(line); i++ {
			if line[i] == '\n' {
				t.Fatalf("formatted line %q has a newline", line)
			}
		}
		e.Time()
		_ = e.Fields()
	})
}
