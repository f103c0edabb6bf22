// Package store keeps warden's persistent state in one SQLite file: the
// bans in force, the per-address ban history that bantime.increment reads,
// log file positions and journal cursors, with numbered schema migrations
// and recovery from a corrupt file.
//
// # Tables
//
//   - jails: name and enabled flag. SyncJails enables exactly the
//     configured jails; Purge drops disabled jails left with nothing.
//   - bans: one row per jail and prefix in force. ActiveBans deletes the
//     rows whose time has run out and returns the rest.
//   - history: the latest ban of each prefix in each jail, kept after the
//     ban ends (like fail2ban's bips table), with its count, failures and
//     matched lines. BanHistory reads it per jail or over all jails; Purge
//     removes entries older than dbpurgeage whose ban time has passed three
//     times over; ForgetHistory removes them on an operator's unban.
//   - logs and journals: read positions per jail.
//
// Times are stored as whole Unix seconds, like fail2ban does; sub-second
// parts are dropped. Addresses are net/netip prefixes, stored canonically
// (host bits cleared, IPv4-mapped IPv6 as IPv4): a single address as its
// bare text ("192.0.2.1"), a wider prefix in CIDR notation.
//
// ImportFail2ban reads fail2ban's own database (any of its four schema
// versions) so a host can move its bans and history over.
//
// Unlike fail2ban, the store keeps no log of every ban event: BanEvidence
// merges the latest ban of each jail, where fail2ban's merged tickets span
// all bans within dbpurgeage.
package store
