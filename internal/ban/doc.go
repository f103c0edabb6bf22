// Package ban is warden's ban manager: it turns ban decisions from the jails
// into firewall bans, shell actions and database rows, lifts them when their
// time is up, and puts them back after a restart.
//
// There is one Manager for all jails. A single manager can coalesce the bans
// of every jail into one firewall transaction (Backend.Ban takes bans of many
// jails at once), keeps one expiry heap and one timer for the whole daemon
// instead of one per jail, and sees every jail's history, which
// bantime.overalljails needs. The active bans of every jail live in one
// compact table (table.go: fixed-size records, an index, one heap by end);
// per-jail counters and action queues in small maps beside it.
//
// Life cycle and ownership: New builds a Manager; Run restores the bans
// recorded in the store, then serves requests until its context ends. The
// request channel is owned by the Manager and never closed: callers stop
// sending by cancelling their own context, and get ErrStopped once Run has
// returned. Requests are handled by Run's goroutine alone, one batch at a
// time: every ban of a batch goes to each backend in one Backend.Ban call
// (a flood coalesces because requests queue up while a batch is applied),
// and the caller of Ban is answered as soon as the firewall has it. The
// database is written behind it by one writer goroutine, in order, from
// packed rows (rows.go). Readers
// (Banned, Stats) take a mutex. Shell actions run on a bounded pool of
// workers, at most one per jail at a time so that a jail's actions see its
// bans and unbans in order, and a slow action holds up neither the
// firewall nor other jails. No goroutine is started per ban.
//
// Shutdown order when Run's context ends: no more requests are taken; the
// database writer finishes the queued writes and the action workers the
// queued jobs (together for at most Config.ShutdownTimeout, then they are
// cancelled); then every action's actionstop runs. Firewall bans are left
// in place on purpose: they carry kernel timeouts and the store keeps
// them, so a restart restores them without a gap. The caller closes the
// store and the backends after Run returns.
//
// Semantics follow fail2ban's actions.py and banmanager.py: a ban starts at
// the ticket's time and ends bantime later; a ticket whose ban would already
// have ended is ignored; an address already banned in a jail is not banned
// again, but its ban is prolonged when the new ticket's end is later; a ban
// ends when its end time is reached (end <= now); an operator's unban also
// forgets the address's history, as fail2ban's delBan does.
package ban
