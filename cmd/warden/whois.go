package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"warden/internal/notify/whois"
)

// newWhoisCmd is "warden whois IP": our own whois client, the one the
// notifications use, printing its summary and the raw answer.
func newWhoisCmd() *cobra.Command {
	var (
		server  string
		asJSON  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "whois [--server host:port] [--json] IP",
		Short: "look an address up in whois (IANA, then the registry it refers to)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := netip.ParseAddr(args[0])
			if err != nil {
				return exitError{code: 2, msg: fmt.Sprintf("%q is not an IP address", args[0])}
			}
			c := whois.New(whois.Config{Server: server, Deadline: timeout, CacheTTL: -1})
			r, err := c.Lookup(cmd.Context(), addr)
			if r != nil {
				out := cmd.OutOrStdout()
				if asJSON {
					if werr := writeWhoisJSON(out, r); werr != nil {
						return werr
					}
				} else {
					writeWhoisText(out, r)
				}
			}
			if err != nil {
				return fmt.Errorf("whois %s: %w", addr, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", whois.DefaultServer, `first whois server, host[:port] ("off" disables)`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", whois.DefaultDeadline, "deadline for the whole lookup, referrals included")
	return cmd
}

func writeWhoisText(w io.Writer, r *whois.Result) {
	s := r.Summary
	for _, row := range [][2]string{
		{"address", r.Addr.String()}, {"netname", s.NetName}, {"country", s.Country}, {"org", s.Org},
		{"as", s.AS}, {"abuse", s.Abuse}, {"cidr", s.CIDR}, {"server", s.Server},
		{"chain", strings.Join(r.Chain, " -> ")},
	} {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-8s %s", row[0]+":", row[1]), " "))
	}
	fmt.Fprintln(w)
	io.WriteString(w, r.Raw)
}

// whoisJSON is the --json output; field names are part of the CLI's
// interface (the summary's are whois.Summary's, which webhooks send too).
type whoisJSON struct {
	Addr    string        `json:"addr"`
	Summary whois.Summary `json:"summary"`
	Chain   []string      `json:"chain"`
	Raw     string        `json:"raw"`
}

func writeWhoisJSON(w io.Writer, r *whois.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(whoisJSON{Addr: r.Addr.String(), Summary: r.Summary, Chain: r.Chain, Raw: r.Raw})
}
