package conformance

import (
	"encoding/binary"
	"fmt"
	"time"
)

// SampleTZ is the POSIX TZ rule fail2ban's test suite pins for every sample
// test: CET with the EU summer-time rule, but with transitions at 02:00 local
// for both changes (no "/3" on the autumn rule).
const SampleTZ = "CET-01CEST-02,M3.5.0,M10.5.0"

// SampleNow is the fixed "now" of fail2ban's sample tests:
// 2005-08-14 12:00:00 CEST (10:00:00 UTC).
var sampleNowUnix int64 = 1124013600

// SampleNow returns the fixed clock reading of the sample tests.
func SampleNow() time.Time { return time.Unix(sampleNowUnix, 0) }

// POSIXZone builds a *time.Location that follows a POSIX TZ rule string for
// every instant. Go only parses such rules as the footer of a TZif file, so
// we wrap the rule in a minimal TZif (version 2) image with no transitions
// and one zone type for the standard offset.
func POSIXZone(name, rule string, stdOffset int32, stdAbbrev string) (*time.Location, error) {
	var b []byte
	header := func() {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, uint32(len(stdAbbrev) + 1)} {
			b = binary.BigEndian.AppendUint32(b, n)
		}
	}
	data := func() {
		b = binary.BigEndian.AppendUint32(b, uint32(stdOffset))
		b = append(b, 0, 0) // isdst, abbreviation index
		b = append(b, stdAbbrev...)
		b = append(b, 0)
	}
	header() // version 1 block (32-bit times; none here)
	data()
	header() // version 2 block (64-bit times; none here)
	data()
	b = append(b, '\n')
	b = append(b, rule...)
	b = append(b, '\n')
	loc, err := time.LoadLocationFromTZData(name, b)
	if err != nil {
		return nil, fmt.Errorf("conformance: zone %q: %w", rule, err)
	}
	return loc, nil
}

// SampleZone returns the time zone of fail2ban's sample tests.
func SampleZone() (*time.Location, error) {
	return POSIXZone(SampleTZ, SampleTZ, 3600, "CET")
}
