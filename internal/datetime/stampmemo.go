package datetime

import "time"

// stampMemo lets Find skip the template search for a line whose syslog
// stamp reads exactly like the previous line's. Logs write the same
// second on many consecutive lines, and when the previous line was read
// by the line-anchored template that matched the line before it, through
// the hand-written syslog matcher (fastSyslog), the outcome for the next
// line depends only on the bytes that matcher looked at: the stamp and
// the two bytes after it. If those bytes are equal, matchTime would take
// the same path again, find the same spans and change its state the same
// way (hit counts and the template's last use; positions and neighbouring
// characters stay what they are), and the time differs only if the
// clock's second moved on, as with convert's own memo.
type stampMemo struct {
	valid bool
	// the previous line's first n bytes; ended: the line ended there
	head  [stampWindow]byte
	n     int
	ended bool
	e     *entry
	m     Match // Time filled when sec is set
	sec   int64 // the clock's second m.Time was converted at
}

// stampWindow covers the longest stamp fastSyslog accepts
// ("Mon Nov 27 06:25:00", 19 bytes) and the two bytes it reads after it.
const stampWindow = 24

// same reports whether line starts like the remembered one, as far as the
// syslog matcher can tell.
func (s *stampMemo) same(line string) bool {
	if !s.valid || len(line) < s.n || s.ended && len(line) != s.n {
		return false
	}
	return line[:s.n] == string(s.head[:s.n])
}

// remember notes that line's stamp, ending at end, was read by e's
// syslog matcher with e the detector's last template; m is Find's answer.
func (s *stampMemo) remember(line string, end int, e *entry) {
	w := end + 2
	if w > stampWindow {
		s.valid = false
		return
	}
	s.ended = len(line) < w
	if s.ended {
		w = len(line)
	}
	s.n = copy(s.head[:], line[:w])
	s.e, s.valid, s.sec = e, true, -1
	s.m = Match{}
}

// repeat is Find for a line whose stamp repeats the memo's: the
// bookkeeping of matchTime's path, and the remembered answer in d.stamp.m
// (converted again if the clock's second changed).
func (d *Detector) repeat(line string) {
	s := &d.stamp
	e := s.e
	t := e.t
	t.hits++
	now := d.now()
	e.hits++
	e.lastUsed = float64(now.UnixNano()) / 1e9
	if sec := now.Unix(); sec != s.sec {
		s.m.Time, _ = d.convert(t, line, now)
		s.sec = sec
	}
}

// stampTime records Find's time for the memo set up by matchTime.
func (s *stampMemo) stampTime(m Match, now time.Time) {
	if s.valid && s.sec == -1 {
		s.m, s.sec = m, now.Unix()
	}
}
