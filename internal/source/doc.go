// Package source reads log lines from files (tailing them across rotation,
// truncation and re-creation) and from the systemd journal (through a
// journalctl child process), and hands them to a jail's filter in order.
//
// Every source is a long-lived part with a Run(ctx, out) method. The caller
// owns the out channel: it creates it, hands it to Run, and closes it (if it
// wants to) only after Run has returned. Run never closes out; it blocks on
// sends, so a slow consumer slows the source down instead of growing memory.
// Run returns nil when ctx ends and saves its last position on the way out.
//
// Files. A File source follows logpath globs, re-expanded every
// GlobInterval (and on create events), with fsnotify directory watches or
// by polling. It keeps each file open, so a file renamed away is read to
// its end before the new one is read from offset 0. A file that shrinks, or
// whose first bytes change, was truncated or rewritten and is read again
// from 0. Positions (inode, first-line hash, offset) are saved at most
// every SaveInterval and on return; on start a position is used only when
// inode and hash still match, and a file rotated while no source ran is
// found again by its inode among its rotated siblings and finished first.
//
// Acknowledged positions. With an Acks in the options, the consumer says
// (Acks.Done) which lines it has finished with, and a position or journal
// cursor is saved only once every line before it is acknowledged: a saved
// position then means "handled", not "handed on", and a crash right after
// a line was handled does not read it again. The daemon's jails work so.
//
// Decisions where fail2ban leaves room:
//   - A line is text up to '\n'; a trailing '\r' is dropped too. The bytes
//     are kept as read (invalid UTF-8 included); decoding is the filter's job.
//   - A last line without '\n' is held back until its newline arrives, as
//     fail2ban does (no timeout). It is emitted only when the file is
//     rotated away or vanishes (fail2ban drops it then); after a truncation
//     it is dropped.
//   - A line longer than FileOptions.MaxLine is cut: the first MaxLine bytes
//     are emitted and the rest is skipped and counted (File.LinesCut), so
//     memory stays bounded.
//   - Saved positions carry fail2ban's first-line hash ("md5:<hex>" of the
//     first line with its newline), so positions imported from a fail2ban
//     database stay valid.
//   - Files that appear after Run started are read from their start even
//     for "tail" logpaths; fail2ban does not look for new files at all.
//
// Journal. A Journal source runs journalctl --follow --output=json with
// the journalmatch terms, starting after the saved cursor (else at Since,
// else at the end). Each entry becomes the line fail2ban's systemd backend
// builds ("HOST IDENT[PID]: MESSAGE", see FormatEntry) with Line.Time set
// from the entry's timestamp, so the filter need not look for a date.
// journalctl is restarted after a doubling wait if it exits.
package source
