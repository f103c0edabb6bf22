// Package action runs fail2ban's action.d shell actions: it substitutes an
// action's tags the way fail2ban's CommandAction does (static tags from the
// action's own parameters, recursively; then the ban's dynamic tags, once,
// without recursion) and runs the result with /bin/sh -c under a timeout.
//
// Values from outside (matched lines, F-* fields, host names, ticket ids)
// never become shell text. A value holding any character the shell treats
// specially is handed to the script as a positional argument bound to a
// variable (f2bV_<tag>), as fail2ban does, and the tag is replaced by a
// reference to that variable quoted to fit where the tag stands: "$v"
// outside quotes, ${v} inside double quotes, '"$v"' inside single quotes.
// fail2ban writes a bare $v everywhere, which the shell splits and globs
// outside quotes and leaves as literal text inside single quotes. Addresses
// are netip values and are written as they are.
//
// A command is one shell script however many lines it has (fail2ban runs
// it the same way): its exit status is the last command's.
//
// The lifecycle follows fail2ban 1.0: actions with family-conditional
// parameters start on demand per address family, unban runs only for a
// family that holds bans, flush only for families with bans, and a failed
// ban, unban or prolong is tried once more, after actioncheck (and
// actionrepair, or a stop and start) when the action has a check.
// Where warden differs: ip-host is "" when the lookup fails (fail2ban
// writes "None"); a command identical for inet4 and inet6 is skipped for
// the second family only within one start, stop, flush or reload, and
// across calls only for start and stop; addresses with an IPv6 zone are
// refused.
package action
