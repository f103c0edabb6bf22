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
// The lifecycle follows fail2ban 1.0: actions with family-conditional
// parameters start on demand per address family, unban runs only for a
// family that holds bans, flush only for families with bans, and a failed
// ban is retried once after actioncheck/actionrepair.
package action
