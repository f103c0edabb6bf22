package control

import (
	"context"
	"net/netip"
)

// Handler is what the daemon implements to answer control requests. The
// server validates every command (words, addresses, option names and
// integer or time values) before calling a method, so a Handler sees only
// well-formed arguments; it reports an unknown jail with ErrUnknownJail, an
// option it does not support with ErrUnknownOption, and a value it rejects
// with ErrBadArgs (wrapped with context). Methods may be called
// concurrently from several connections.
type Handler interface {
	// Ping answers "pong" when it returns nil.
	Ping(ctx context.Context) error
	// Version is the daemon's version string.
	Version(ctx context.Context) (string, error)
	// Status lists the jails ("status").
	Status(ctx context.Context) (ServerStatus, error)
	// JailStatus reports one jail ("status JAIL [FLAVOR]").
	JailStatus(ctx context.Context, jail string, flavor Flavor) (JailStatus, error)
	// Stats reports counters for every jail ("stats").
	Stats(ctx context.Context) ([]JailStats, error)
	// Banned lists, for every jail in name order, the addresses and
	// networks banned there. With ips given, only the bans overlapping one
	// of them are listed (an address inside a banned network finds that
	// network's ban), and every jail is still listed, possibly with none.
	Banned(ctx context.Context, ips []netip.Prefix) ([]JailBans, error)
	// BanIP bans ips (single addresses are /32 or /128) in jail and returns
	// how many were newly banned.
	BanIP(ctx context.Context, jail string, ips []netip.Prefix) (int, error)
	// UnbanIP lifts the bans in jail that overlap ips (so an address inside
	// a banned network lifts that network's ban) and returns how many were
	// lifted. With reportAbsent, an entry of ips that no ban there
	// overlaps is an error (ErrBadArgs) instead of being skipped.
	UnbanIP(ctx context.Context, jail string, ips []netip.Prefix, reportAbsent bool) (int, error)
	// Unban lifts the bans overlapping ips in every jail and the database,
	// or every ban when all is set (ips is then empty); it returns how many
	// were lifted.
	Unban(ctx context.Context, ips []netip.Prefix, all bool) (int, error)
	// Get reads a runtime option of jail, or of the daemon when jail is ""
	// (loglevel, logtarget, dbfile, ...). args are extra words ("get sshd
	// banned IP..." or "get sshd banip --with-time"). The value must be one
	// of: nil, string, bool, an integer, float64, []string.
	Get(ctx context.Context, jail, option string, args []string) (any, error)
	// Set changes a runtime option and returns its new value, as Get.
	Set(ctx context.Context, jail, option string, values []string) (any, error)
	// Reload rereads the configuration.
	Reload(ctx context.Context, opts ReloadOptions) error
	// Start starts a configured jail.
	Start(ctx context.Context, jail string) error
	// Stop stops a jail, or shuts the daemon down when jail is "".
	Stop(ctx context.Context, jail string) error
	// FlushLogs reopens the daemon's log file and says what it did
	// ("rolled over" or "flushed").
	FlushLogs(ctx context.Context) (string, error)
}

// Flavor selects how much "status JAIL" reports, as in fail2ban.
type Flavor string

// The flavors a jail status accepts. FlavorShort leaves out the banned
// address list.
const (
	FlavorBasic Flavor = "basic"
	FlavorShort Flavor = "short"
)

// ServerStatus is the answer to a bare "status".
type ServerStatus struct {
	// Jails are the running jails' names, sorted.
	Jails []string `json:"jails"`
	// Mail is the state of mail notifications; nil when no jail mails.
	Mail *MailStatus `json:"mail,omitempty"`
	// Webhooks count the events of each webhook target, by name; empty
	// when none is configured.
	Webhooks []WebhookStatus `json:"webhooks,omitempty"`
}

// WebhookStatus counts one webhook target's events since its notifier
// started (a reload that changes the targets starts a new one).
type WebhookStatus struct {
	Name    string `json:"name"`
	Sent    uint64 `json:"sent"`    // requests (a digest is one)
	Queued  uint64 `json:"queued"`  // events waiting (one-per-event targets)
	Failed  uint64 `json:"failed"`  // requests given up
	Dropped uint64 `json:"dropped"` // events refused by a full queue
}

// MailStatus counts the mail notifications since the server started.
type MailStatus struct {
	Sent      int64  `json:"sent"`
	Queued    int64  `json:"queued"`  // waiting or being retried now
	Failed    int64  `json:"failed"`  // given up (kept in the database or lost)
	Dropped   int64  `json:"dropped"` // refused by a full queue
	Stored    int    `json:"stored"`  // waiting in the database for a later try
	LastError string `json:"last_error,omitempty"`
}

// JailStatus is one jail's counters and lists.
type JailStatus struct {
	Jail            string `json:"jail"`
	CurrentlyFailed int    `json:"currently_failed"`
	TotalFailed     int    `json:"total_failed"`
	// Journal is set for a journal-backed jail; JournalMatches then
	// replaces Files. Each match is one group of FIELD=value words.
	Journal         bool     `json:"journal,omitempty"`
	Files           []string `json:"files"`
	JournalMatches  []string `json:"journal_matches,omitempty"`
	CurrentlyBanned int      `json:"currently_banned"`
	TotalBanned     int      `json:"total_banned"`
	// BannedIPs are the bans in force: addresses, and networks of prefix
	// bans (banprefix4/banprefix6) written as CIDR.
	BannedIPs []Target `json:"banned_ips"`
}

// AllStatus is the answer to "status --all": the server status followed by
// every jail's status in the same order.
type AllStatus struct {
	Server ServerStatus `json:"server"`
	Jails  []JailStatus `json:"jails"`
}

// JailStats is one row of "stats".
type JailStats struct {
	Jail            string `json:"jail"`
	Backend         string `json:"backend"`
	CurrentlyFailed int    `json:"currently_failed"`
	TotalFailed     int    `json:"total_failed"`
	CurrentlyBanned int    `json:"currently_banned"`
	TotalBanned     int    `json:"total_banned"`
}

// JailBans lists the banned addresses and networks of one jail.
type JailBans struct {
	Jail string   `json:"jail"`
	IPs  []Target `json:"ips"`
}

// ReloadOptions are the words of "reload [--restart] [--unban]
// [--if-exists] [--all|JAIL]".
type ReloadOptions struct {
	// Jail is the jail to reload; "" means every jail.
	Jail     string `json:"jail,omitempty"`
	Restart  bool   `json:"restart,omitempty"`
	Unban    bool   `json:"unban,omitempty"`
	IfExists bool   `json:"if_exists,omitempty"`
}
