package jail

import (
	"context"
	"log/slog"
	"time"
)

// logEvent writes one of fail2ban's filter lines at INFO (see
// internal/logfmt), stamped now (the jail's clock, read already). A flood
// counts hundreds of thousands of failures, so the record goes straight to
// the jail's handler with typed attributes: no caller lookup, no boxing,
// nothing allocated.
func (j *Jail) logEvent(ctx context.Context, now time.Time, msg string, a, b slog.Attr) {
	h := j.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(now, slog.LevelInfo, msg, 0)
	r.AddAttrs(a, b)
	_ = h.Handle(ctx, r)
}
