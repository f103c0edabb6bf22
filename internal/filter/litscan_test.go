package filter

import "testing"

// BenchmarkLitScan: one required-literal scan of fail2ban's sshd filter
// per op over auth.log lines (about 100 bytes each).
func BenchmarkLitScan(b *testing.B) {
	lines := authLog(4096)
	bufs := make([][]byte, len(lines))
	for i, l := range lines {
		bufs[i] = []byte(l)
	}
	f, err := Compile(f2bDefinition(b, "sshd", map[string]string{"mode": "normal"}), Options{Dates: noDates{}})
	if err != nil {
		b.Fatal(err)
	}
	found := make(litMask, len(f.found))
	cpuLoop(b, func(i int) { f.lits.scan(bufs[i%len(bufs)], found) })
}
