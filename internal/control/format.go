package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Format renders a command's raw result the way fail2ban-client prints it,
// so scripts that parse fail2ban-client's output keep working. Results
// fail2ban-client prints without special layout are printed as Python
// would print them ("600", "True", "['a', 'b']").
func Format(cmd Command, raw json.RawMessage) (string, error) {
	switch cmd.Name {
	case "ping":
		return "Server replied: " + strOf(raw), nil
	case "version", "reload":
		return strOf(raw), nil
	case "start":
		return "Jail started", nil
	case "stop":
		if cmd.Jail == "" {
			return "Shutdown successful", nil
		}
		return "Jail stopped", nil
	case "flushlogs":
		return "logs: " + strOf(raw), nil
	case "status":
		return formatStatus(cmd, raw)
	case "stats":
		var rows []JailStats
		if err := json.Unmarshal(raw, &rows); err != nil {
			return "", fmt.Errorf("decode stats: %w", err)
		}
		return FormatStats(rows), nil
	case "banned":
		var bans []JailBans
		if err := json.Unmarshal(raw, &bans); err != nil {
			return "", fmt.Errorf("decode banned: %w", err)
		}
		return FormatBanned(bans, cmd.IPs), nil
	case "get", "set":
		v, err := decodeValue(raw)
		if err != nil {
			return "", err
		}
		return FormatValue(cmd, v), nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		return "", err
	}
	return pyStr(v), nil
}

// FormatError renders a failed command's error as fail2ban-client words
// it: an unknown jail is "Sorry but the jail 'NAME' does not exist".
func FormatError(cmd Command, err error) string {
	if errors.Is(err, ErrUnknownJail) {
		jail := cmd.Jail
		if cmd.Name == "reload" {
			jail = cmd.Reload.Jail
		}
		if jail != "" {
			return "Sorry but the jail '" + jail + "' does not exist"
		}
	}
	return err.Error()
}

func strOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	v, _ := decodeValue(raw)
	return pyStr(v)
}

func formatStatus(cmd Command, raw json.RawMessage) (string, error) {
	switch {
	case cmd.Firewall:
		return formatFirewall(raw)
	case cmd.All:
		var all AllStatus
		if err := json.Unmarshal(raw, &all); err != nil {
			return "", fmt.Errorf("decode status: %w", err)
		}
		return FormatStatusAll(all, flavorOr(cmd.Flavor)), nil
	case cmd.Jail != "":
		var js JailStatus
		if err := json.Unmarshal(raw, &js); err != nil {
			return "", fmt.Errorf("decode status: %w", err)
		}
		if js.Jail == "" {
			js.Jail = cmd.Jail
		}
		return FormatJailStatus(js, flavorOr(cmd.Flavor)), nil
	default:
		var st ServerStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return "", fmt.Errorf("decode status: %w", err)
		}
		return FormatServerStatus(st), nil
	}
}

// treeItem is one "name:\tvalue" line, or a branch with children.
type treeItem struct {
	name     string
	value    string
	children []treeItem
}

// writeTree draws items with fail2ban-client's "|-" and "`-" connectors,
// prefixing every line with indent.
func writeTree(b *strings.Builder, items []treeItem, indent string) {
	for i, it := range items {
		last := i == len(items)-1
		conn, next := "|- ", "|  "
		if last {
			conn, next = "`- ", "   "
		}
		b.WriteString("\n" + indent + conn + it.name)
		if it.children != nil {
			writeTree(b, it.children, indent+next)
			continue
		}
		b.WriteString(":\t" + it.value)
	}
}

// FormatServerStatus renders a bare "status".
func FormatServerStatus(st ServerStatus) string {
	var b strings.Builder
	b.WriteString("Status")
	items := []treeItem{
		{name: "Number of jail", value: strconv.Itoa(len(st.Jails))},
		{name: "Jail list", value: strings.Join(st.Jails, ", ")},
	}
	if m := st.Mail; m != nil {
		mail := []treeItem{
			{name: "Sent", value: strconv.FormatInt(m.Sent, 10)},
			{name: "Queued", value: strconv.FormatInt(m.Queued, 10)},
			{name: "Failed", value: strconv.FormatInt(m.Failed, 10)},
			{name: "Dropped", value: strconv.FormatInt(m.Dropped, 10)},
			{name: "Stored for retry", value: strconv.Itoa(m.Stored)},
		}
		if m.LastError != "" {
			mail = append(mail, treeItem{name: "Last error", value: m.LastError})
		}
		items = append(items, treeItem{name: "Mail", children: mail})
	}
	if len(st.Webhooks) > 0 {
		var hooks []treeItem
		for _, w := range st.Webhooks {
			hooks = append(hooks, treeItem{name: w.Name, value: fmt.Sprintf("sent %d, queued %d, failed %d, dropped %d",
				w.Sent, w.Queued, w.Failed, w.Dropped)})
		}
		items = append(items, treeItem{name: "Webhooks", children: hooks})
	}
	writeTree(&b, items, "")
	return b.String()
}

// FormatJailStatus renders "status JAIL [FLAVOR]".
func FormatJailStatus(js JailStatus, flavor Flavor) string {
	filter := []treeItem{
		{name: "Currently failed", value: strconv.Itoa(js.CurrentlyFailed)},
		{name: "Total failed", value: strconv.Itoa(js.TotalFailed)},
	}
	if js.Journal {
		filter = append(filter, treeItem{name: "Journal matches", value: strings.Join(js.JournalMatches, " + ")})
	} else {
		filter = append(filter, treeItem{name: "File list", value: strings.Join(js.Files, " ")})
	}
	actions := []treeItem{
		{name: "Currently banned", value: strconv.Itoa(js.CurrentlyBanned)},
		{name: "Total banned", value: strconv.Itoa(js.TotalBanned)},
	}
	if flavor != FlavorShort {
		actions = append(actions, treeItem{name: "Banned IP list", value: joinAddrs(js.BannedIPs, " ")})
	}
	var b strings.Builder
	b.WriteString("Status for the jail: " + js.Jail)
	writeTree(&b, []treeItem{{name: "Filter", children: filter}, {name: "Actions", children: actions}}, "")
	return b.String()
}

// FormatStatusAll renders "status --all": the server status, then each
// jail's status, blocks separated by an empty line.
func FormatStatusAll(all AllStatus, flavor Flavor) string {
	parts := []string{FormatServerStatus(all.Server)}
	for _, js := range all.Jails {
		parts = append(parts, FormatJailStatus(js, flavor))
	}
	return strings.Join(parts, "\n\n")
}

// FormatStats renders "stats" as a table, one row per jail: current and
// total failures (filter) and bans (actions).
func FormatStats(rows []JailStats) string {
	if len(rows) == 0 {
		return "No jails found."
	}
	head := []string{"Jail", "Backend", "Failed", "Total failed", "Banned", "Total banned"}
	cells := [][]string{head}
	for _, r := range rows {
		cells = append(cells, []string{r.Jail, r.Backend,
			strconv.Itoa(r.CurrentlyFailed), strconv.Itoa(r.TotalFailed),
			strconv.Itoa(r.CurrentlyBanned), strconv.Itoa(r.TotalBanned)})
	}
	width := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for n, row := range cells {
		if n > 0 {
			b.WriteByte('\n')
		}
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < 2 { // names left-aligned, numbers right-aligned
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
	}
	return b.String()
}

// FormatBanned renders "banned" as fail2ban-client prints it: without ips,
// a list of one-entry {jail: [ips]} dicts; with ips, for each address the
// list of jails it is banned in, where a banned network counts for the
// addresses inside it.
func FormatBanned(bans []JailBans, ips []netip.Prefix) string {
	if len(ips) == 0 {
		parts := make([]string, len(bans))
		for i, jb := range bans {
			ss := make([]string, len(jb.IPs))
			for k, a := range jb.IPs {
				ss[k] = a.String()
			}
			parts[i] = "{" + pyQuote(jb.Jail) + ": " + pyList(ss) + "}"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	parts := make([]string, len(ips))
	for i, ip := range ips {
		var jails []string
		for _, jb := range bans {
			for _, t := range jb.IPs {
				if t.Covers(ip) {
					jails = append(jails, jb.Jail)
					break
				}
			}
		}
		parts[i] = pyList(jails)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func joinAddrs(as []Target, sep string) string {
	ss := make([]string, len(as))
	for i, a := range as {
		ss[i] = a.String()
	}
	return strings.Join(ss, sep)
}

// FormatValue renders the value of "get" or "set" as fail2ban-client
// does for that option.
func FormatValue(cmd Command, v any) string {
	list := toStrings(v)
	tree := func(empty, head string, f func(i int, s string) string) string {
		if len(list) == 0 {
			return empty
		}
		var b strings.Builder
		b.WriteString(head)
		for i, s := range list {
			conn := "|- "
			if i == len(list)-1 {
				conn = "`- "
			}
			b.WriteString("\n" + conn + f(i, s))
		}
		return b.String()
	}
	plain := func(_ int, s string) string { return s }
	if cmd.Jail == "" {
		switch cmd.Option {
		case "syslogsocket":
			return "Current syslog socket is:\n`- " + pyStr(v)
		case "logtarget":
			return "Current logging target is:\n`- " + pyStr(v)
		case "loglevel":
			return "Current logging level is " + pyRepr(v)
		case "dbfile":
			if v == nil {
				return "Database currently disabled"
			}
			return "Current database file is:\n`- " + pyStr(v)
		case "dbpurgeage":
			if v == nil {
				return "Database currently disabled"
			}
			return "Current database purge age is:\n`- " + pyStr(v) + "seconds"
		}
		return pyStr(v)
	}
	switch cmd.Option {
	case "logpath", "addlogpath", "dellogpath":
		return tree("No file is currently monitored", "Current monitored log file(s):", plain)
	case "logencoding":
		return "Current log encoding is set to:\n" + pyStr(v)
	case "journalmatch", "addjournalmatch", "deljournalmatch":
		if len(list) == 0 {
			return "No journal match filter set"
		}
		return "Current match filter:\n" + strings.Join(list, " + ")
	case "datepattern":
		switch {
		case v == nil:
			return "Current date pattern set to: Not set/required"
		case len(list) == 2 && isList(v):
			return "Current date pattern set to: " + list[0] + " (" + list[1] + ")"
		}
		return "Current date pattern set to: " + pyStr(v)
	case "ignoreip", "addignoreip", "delignoreip":
		return tree("No IP address/network is ignored", "These IP addresses/networks are ignored:", plain)
	case "failregex", "addfailregex", "delfailregex", "ignoreregex", "addignoreregex", "delignoreregex":
		return tree("No regular expression is defined", "The following regular expression are defined:",
			func(i int, s string) string { return "[" + strconv.Itoa(i) + "]: " + s })
	case "actions":
		if len(list) == 0 {
			return "No actions for jail " + cmd.Jail
		}
		return "The jail " + cmd.Jail + " has the following actions:\n" + strings.Join(list, ", ")
	case "actionproperties", "actionmethods":
		what := strings.TrimPrefix(cmd.Option, "action")
		act := ""
		if len(cmd.Args) > 0 {
			act = cmd.Args[0]
		}
		if len(list) == 0 {
			return "No " + what + " for jail " + cmd.Jail + " action " + act
		}
		return "The jail " + cmd.Jail + " action " + act + " has the following " + what + ":\n" + strings.Join(list, ", ")
	case "banip":
		if cmd.Name == "get" && isList(v) {
			sep := " "
			if len(cmd.Args) > 0 {
				sep = cmd.Args[0]
			}
			if sep == "--with-time" {
				sep = "\n"
			}
			return strings.Join(list, sep)
		}
	}
	return pyStr(v)
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

// toStrings flattens a decoded list (or a lone string) into strings.
func toStrings(v any) []string {
	switch t := v.(type) {
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = pyStr(e)
		}
		return out
	case string:
		return []string{t}
	}
	return nil
}

// pyStr is Python's str() of a decoded JSON value.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr is Python's repr() of a decoded JSON value.
func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return pyQuote(t)
	case json.Number:
		return t.String()
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyQuote(k) + ": " + pyRepr(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func pyList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = pyQuote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pyQuote quotes s as Python's repr does for plain text: single quotes
// unless s holds a single quote and no double quote.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteString(`\` + string(q))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
