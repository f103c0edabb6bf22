package jail

import "time"

// Retune gives j the failure-window and ignore options of o (maxretry,
// findtime, maxmatches and the ignore list), keeping every id j tracks and
// its count: the client's `set JAIL maxretry|findtime|maxmatches|
// addignoreip|delignoreip|ignoreself|ignorecommand` on a running jail, as
// fail2ban changes them on its FailManager and Filter in place. The server
// builds o from the changed configuration and hands its options over.
//
// Counts already tracked are judged by the new options from the next
// failure on: a lower maxretry bans an id on its next failure if its count
// reaches it, a shorter findtime expires ids sooner, a smaller maxmatches
// trims an id's lines when it next gets one. Name, clock, prefixes and the
// evidence setting stay j's.
func (j *Jail) Retune(o *Jail) {
	o.mu.Lock()
	maxRetry, findTime, maxMatches, ign := o.cfg.MaxRetry, o.cfg.FindTime, o.cfg.MaxMatches, o.cfg.Ignore
	o.mu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cfg.MaxRetry, j.cfg.MaxMatches, j.cfg.Ignore = maxRetry, maxMatches, ign
	j.setFindTime(findTime)
}

// setFindTime changes findtime; the caller holds j.mu.
func (j *Jail) setFindTime(d time.Duration) {
	j.cfg.FindTime = d
	j.findTime = int64(d)
}
