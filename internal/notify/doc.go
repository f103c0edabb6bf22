// Package notify tells people about bans by e-mail: it composes the
// messages fail2ban's sendmail-* and mail-* actions send (start, stop, ban
// with whois report and log lines, buffered summaries, digests), renders
// them as safe MIME text, and delivers them through the local sendmail
// binary or SMTP from a bounded queue that never blocks banning.
//
// Nothing taken from a log line, a user name or a whois answer reaches a
// header, a recipient or a shell: header values are stripped of control
// characters and encoded, recipients come from the configuration only and
// are checked, and sendmail is run as argv with the message on stdin.
package notify
