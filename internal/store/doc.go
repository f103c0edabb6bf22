// Package store keeps warden's persistent state in one SQLite file: the
// active bans, the per-address ban history that bantime.increment reads,
// log file positions and journal cursors, with numbered schema migrations
// and recovery from a corrupt file.
//
// It also reads fail2ban's own database (ImportFail2ban) so a host can move
// its bans and history over.
//
// All times are stored as whole Unix seconds, like fail2ban does; sub-second
// parts are dropped. Addresses are net/netip prefixes; a single address is
// stored as its bare text ("192.0.2.1"), a wider prefix as CIDR text.
package store
