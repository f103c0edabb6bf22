package filter

import (
	"container/list"
	"strings"
	"time"
)

// mlfidCache keeps failure data by multi-line failure id (e.g. a
// connection id), like fail2ban's: entries live maxAge, and when full the
// oldest insertions are dropped first.
type mlfidCache struct {
	max    int
	maxAge time.Duration
	order  *list.List // of *mlfidEntry, oldest first
	byID   map[string]*list.Element
	// spare: a dropped entry whose storage add reuses
	spare *mlfidEntry
}

type mlfidEntry struct {
	id      string
	data    *failData
	expires time.Time
}

func newMLFIDCache(max int, maxAge time.Duration) *mlfidCache {
	return &mlfidCache{max: max, maxAge: maxAge, order: list.New(), byID: map[string]*list.Element{}}
}

func (c *mlfidCache) get(id string, now time.Time) *failData {
	el, ok := c.byID[id]
	if !ok {
		return nil
	}
	e := el.Value.(*mlfidEntry)
	if e.expires.After(now) {
		return e.data
	}
	c.unset(id)
	return nil
}

// add makes the entry for id, a new id (one get has just found no live
// entry for, so byID does not hold it), and returns its data's storage,
// zero but for the capacity of its groups' array. When full, the oldest
// entries are dropped first (expired ones, and one more), as fail2ban's
// cache does on set. A dropped entry's storage is reused (the entry, its
// failData and its groups' array: nothing else refers to them; what a
// failure shares with the data, its matches, users and Fields map, is
// left alone), so a new id mostly allocates only its list element.
func (c *mlfidCache) add(id string, now time.Time) *failData {
	if c.order.Len() >= c.max {
		for c.order.Len() > 0 {
			front := c.order.Front()
			e := c.order.Remove(front).(*mlfidEntry)
			delete(c.byID, e.id)
			if c.spare == nil {
				c.spare = e
			}
			if e.expires.After(now) && c.order.Len() < c.max {
				break
			}
		}
	}
	e := c.spare
	c.spare = nil
	if e == nil {
		e = &mlfidEntry{data: &failData{}}
	}
	g := e.data.g[:0]
	*e.data = failData{g: g}
	e.id, e.expires = id, now.Add(c.maxAge)
	c.byID[id] = c.order.PushBack(e)
	return e.data
}

// unset drops id's entry. Its storage is kept for the next add, once
// the data handed out for this line are done with (the caller's failure
// is made from them first, and add clears only the entry's own parts).
func (c *mlfidCache) unset(id string) {
	if el, ok := c.byID[id]; ok {
		e := c.order.Remove(el).(*mlfidEntry)
		delete(c.byID, id)
		if c.spare == nil {
			c.spare = e
		}
	}
}

// addUser notes a user of the id; copy: keep a copy of the text rather
// than the text itself (see Options.SharedLines).
func (d *failData) addUser(user gval, copy bool) {
	if !user.truthy() {
		return
	}
	d.hasUsers = true
	for _, u := range d.users {
		if u == user.s {
			return
		}
	}
	if copy {
		user.s = strings.Clone(user.s)
	}
	d.users = append(d.users, user.s)
}

// Flags of mergeFailure's state (fail2ban's nfflgs).
const (
	mfNoFail  = 1
	mfForget  = 2
	mfWasSet  = 4 // the cached entry had nofail or gained
	mfGained  = 8
	mfNoGain1 = mfNoFail | mfForget
)

// mergeFailure folds a failure into the data kept for its multi-line id
// (F-MLFID), as fail2ban's _mergeFailure: F-NOFAIL marks a line that is
// not a failure by itself, F-MLFFORGET ends the id, F-MLFGAINED (a
// successful login) drops what was pending.
// matched are the hit's lines (nil when counting), which the cache may
// keep.
func (f *Filter) mergeFailure(id string, cur *failData, matched []string) *failData {
	now := f.opts.Now()
	// what the cache keeps must not hold on to the caller's buffers
	shared := f.opts.SharedLines
	cached := f.mlfid.get(id, now)
	flags := 0
	if g := cur.get("mlfgained"); g.truthy() {
		flags |= mfGained | mfNoFail
		if !cur.get("nofail").truthy() {
			cur.g.set("nofail", g)
		}
	} else if cur.get("nofail").truthy() {
		flags |= mfNoFail
	}
	if v, ok := cur.g.del("mlfforget"); ok {
		if v.truthy() {
			flags |= mfForget
		}
	}
	var users []string
	d := cur
	if cached != nil {
		cached.addUser(cur.get("user"), shared)
		users = cached.users
		if v, ok := cached.g.del("nofail"); ok {
			if v.ok { // a group that took part: in Fields
				cached.fields = nil
			}
			if v.truthy() {
				flags |= mfWasSet
			}
		}
		if v, ok := cached.g.del("mlfgained"); ok {
			if v.ok {
				cached.fields = nil
			}
			if v.truthy() {
				flags |= mfWasSet
			}
		}
		if flags&mfGained != 0 {
			cached.pending = false
		}
		if flags&mfWasSet == 0 && !cached.pending {
			cached.matches = nil
		}
		for _, e := range cur.g {
			if !e.v.ok {
				continue
			}
			if v, ok := cached.g.lookup(e.name); ok && v == e.v {
				continue // the same text: nothing changes (set would only swap the string for its twin)
			}
			if shared {
				e.v.s = strings.Clone(e.v.s)
			}
			cached.g.set(e.name, e.v)
			cached.fields = nil
		}
		d = cached
		if flags&mfForget != 0 {
			f.mlfid.unset(id)
		}
	} else if flags&mfForget == 0 {
		if shared {
			id = strings.Clone(id)
		}
		// cur and its groups may be the caller's scratch space: the
		// cache's entry gets copies
		d = f.mlfid.add(id, now)
		g := append(d.g, cur.g...)
		*d = *cur
		d.g = g
		if shared {
			for i := range d.g {
				d.g[i].v.s = strings.Clone(d.g[i].v.s)
			}
		}
		d.addUser(d.get("user"), shared)
		users = d.users
	}
	wasPending := d.pending
	d.pending = false
	if wasPending || len(users) > 1 {
		v1, _ := d.g.del("nofail")
		v2, _ := d.g.del("mlfgained")
		if v1.ok || v2.ok {
			d.fields = nil
		}
		flags &^= mfGained | mfNoFail
	}
	switch {
	case flags&mfNoFail == 0:
		var m []string
		if len(d.nofailMatches) == 0 && len(d.matches) == 0 && flags&mfGained == 0 {
			m = matched // a new slice: no copy needed
		} else {
			m = append(d.nofailMatches, d.matches...)
			if flags&mfGained == 0 {
				m = append(m, matched...)
			}
		}
		d.nofailMatches = nil
		d.matches = m
	case flags&mfNoGain1 == mfNoFail:
		d.nofailMatches = append(d.nofailMatches, matched...)
	}
	return d
}
