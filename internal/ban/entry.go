package ban

import (
	"net/netip"
	"time"
)

// entry is one active ban of a jail as the manager's code handles it; the
// table keeps it packed (banRec). What only actions read (the ticket's id,
// matched lines and fields) is behind a pointer that jails without actions
// leave nil.
type entry struct {
	jail     string
	prefix   netip.Prefix
	start    int64         // Unix nanoseconds
	banTime  time.Duration // negative: for ever
	count    int32
	failures int32
	restored bool
	more     *entryMore
}

// entryMore is what the actions (and the store, once) read of a ban.
type entryMore struct {
	id      string
	matches []string
	fields  map[string]string
}

func newEntry(jail string, p netip.Prefix, start time.Time, bt time.Duration, count, failures int) *entry {
	return &entry{jail: jail, prefix: p, start: start.UnixNano(), banTime: bt,
		count: int32(count), failures: int32(failures)}
}

// begins returns when the ban started.
func (e *entry) begins() time.Time { return time.Unix(0, e.start) }

// end returns when the ban ends; zero for a permanent ban.
func (e *entry) end() time.Time {
	if e.banTime < 0 {
		return time.Time{}
	}
	return e.begins().Add(e.banTime)
}

func (e *entry) id() string {
	if e.more == nil {
		return ""
	}
	return e.more.id
}

func (e *entry) matches() []string {
	if e.more == nil {
		return nil
	}
	return e.more.matches
}

func (e *entry) fields() map[string]string {
	if e.more == nil {
		return nil
	}
	return e.more.fields
}

// Before, SetPos and Pos order the heap of non-permanent bans: earliest
// end first (slots.Ordered).
func (t *banTable) Before(a, b int32) bool { return t.at(a).end() < t.at(b).end() }
func (t *banTable) SetPos(s, pos int32)    { t.at(s).hidx = pos }
func (t *banTable) Pos(s int32) int32      { return t.at(s).hidx }
