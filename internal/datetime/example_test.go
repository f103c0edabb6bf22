package datetime_test

import (
	"fmt"
	"time"

	"warden/internal/datetime"
)

func ExampleDetector_Find() {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	d, err := datetime.New(datetime.Options{Location: time.UTC, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	line := `192.0.2.7 - - [02/Jan/2026:15:04:05 +0100] "GET /wp-login.php HTTP/1.1" 404 512`
	m, ok := d.Find(line)
	fmt.Println(ok, line[m.Start:m.End], m.Time.UTC())
	// Output: true 02/Jan/2026:15:04:05 +0100 2026-01-02 14:04:05 +0000 UTC
}

func ExampleParseZone() {
	loc, err := datetime.ParseZone("UTC+0200")
	if err != nil {
		panic(err)
	}
	d, _ := datetime.New(datetime.Options{Pattern: "^%Y-%m-%d %H:%M:%S", Location: loc})
	m, _ := d.Find("2026-01-02 15:04:05 sshd[1]: Failed password")
	fmt.Println(m.Time.UTC())
	// Output: 2026-01-02 13:04:05 +0000 UTC
}
