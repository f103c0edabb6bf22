// Package source reads log lines from files (tailing them across rotation,
// truncation and re-creation) and from the systemd journal (through a
// journalctl child process), and hands them to a jail's filter in order.
//
// Every source is a long-lived part with a Run(ctx, out) method. The caller
// owns the out channel: it creates it, hands it to Run, and closes it (if it
// wants to) only after Run has returned. Run never closes out; it blocks on
// sends, so a slow consumer slows the source down instead of growing memory.
//
// Decisions where fail2ban leaves room:
//   - A line is text up to '\n'; a trailing '\r' is dropped too. The bytes
//     are kept as read (invalid UTF-8 included); decoding is the filter's job.
//   - A last line without '\n' is held back until its newline arrives, as
//     fail2ban does. It is emitted only when the file is rotated away or
//     vanishes (fail2ban drops it then); after a truncation it is dropped.
//   - A line longer than FileOptions.MaxLine is cut: the first MaxLine bytes
//     are emitted and the rest is skipped and counted, so memory stays bounded.
//   - Saved positions carry fail2ban's first-line hash ("md5:<hex>" of the
//     first line with its newline), so positions imported from a fail2ban
//     database stay valid.
package source
