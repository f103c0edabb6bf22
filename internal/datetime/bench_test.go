package datetime

import (
	"testing"
	"time"
)

func benchDetector(b *testing.B, pattern string, lines []string) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	d, err := New(Options{Pattern: pattern, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range lines { // warm up: template order settles
		d.Find(l)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Find(lines[i%len(lines)])
	}
}

func BenchmarkFindSyslog(b *testing.B) {
	benchDetector(b, "", []string{
		"Jan  2 15:04:05 host sshd[1234]: Failed password for root from 192.168.1.10 port 22 ssh2",
		"Jan  2 15:04:06 host sshd[1234]: Failed password for invalid user admin from 10.0.0.1 port 2222 ssh2",
	})
}

func BenchmarkFindRFC3339(b *testing.B) {
	benchDetector(b, "", []string{
		"2026-01-02T15:04:05.123456+01:00 host sshd[1234]: Failed password for root from 192.168.1.10 port 22 ssh2",
		"2026-01-02T15:04:06.000001+01:00 host sshd[1234]: Failed password for root from 10.0.0.1 port 22 ssh2",
	})
}

// The IPs differ in length, so the stamp moves: fail2ban's detector then
// rescans all templates on every line.
func BenchmarkFindApache(b *testing.B) {
	benchDetector(b, "", []string{
		`192.168.1.10 - - [02/Jan/2026:15:04:05 +0100] "GET /wp-login.php HTTP/1.1" 404 512 "-" "Mozilla/5.0"`,
		`10.0.0.1 - - [02/Jan/2026:15:04:06 +0100] "POST /login HTTP/1.1" 401 128 "-" "curl/8.0"`,
	})
}

func BenchmarkFindNoDate(b *testing.B) {
	benchDetector(b, "", []string{
		"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.168.1.10",
	})
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
