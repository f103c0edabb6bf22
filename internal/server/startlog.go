package server

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"

	"warden/internal/logfmt"
	"warden/internal/source"
)

// inotifyProbe tells, once per server, whether file notifications can be
// set up here (a file source in auto mode polls otherwise).
type inotifyProbe struct {
	once sync.Once
	ok   bool
}

func (p *inotifyProbe) usable() bool {
	p.once.Do(func() {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			w.Close()
			p.ok = true
		}
	})
	return p.ok
}

// sourceLabel names how a jail reads its log: journal, file/inotify or
// file/polling.
func (j *jailRun) sourceLabel(inotify bool) string {
	switch {
	case j.journal:
		return "journal"
	case j.mode == source.ModePolling || !inotify:
		return "file/polling"
	}
	return "file/inotify"
}

// firewallLabel names what bans a jail's offenders: a native backend
// and/or its other actions.
func (j *jailRun) firewallLabel() string {
	var parts []string
	if j.spec != nil {
		parts = append(parts, j.kind)
	}
	for _, a := range j.actions {
		parts = append(parts, "action "+a.Name())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// logJailStarts writes the one start-up line per jail built since the
// previous generation (every jail at start; new and changed ones after a
// reload).
func logJailStarts(log *slog.Logger, jails []*jailRun, before map[string]*jailRun, inotify bool) {
	for _, j := range jails {
		if before[j.name] == j {
			continue
		}
		attrs := []any{"jail", j.name, "source", j.sourceLabel(inotify), "firewall", j.firewallLabel()}
		if j.journal {
			attrs = append(attrs, "journalmatch", strings.Join(j.match, " + "))
		} else {
			attrs = append(attrs, "files", len(j.currentFiles()))
		}
		log.Info(logfmt.MsgJailStarted, attrs...)
	}
}
