package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"warden/internal/store"
)

// defaultDBPath is where warden keeps its database unless told otherwise.
const defaultDBPath = "/var/lib/warden/warden.db"

func newImportFail2banCmd() *cobra.Command {
	var (
		dbPath    string
		positions bool
		banTime   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "import-fail2ban FILE",
		Short: "import bans and ban history from a fail2ban database",
		Long: "import-fail2ban reads a fail2ban database (fail2ban.sqlite3, any schema version)\n" +
			"without changing it and merges its jails, ban history and bans still in force\n" +
			"into warden's database. Where warden already knows a ban of the same address in\n" +
			"the same jail, the later one wins, so importing twice is harmless.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			stderr := cmd.ErrOrStderr()
			if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
				return err
			}
			s, err := store.Open(ctx, dbPath, store.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil))})
			if err != nil {
				return err
			}
			defer s.Close()
			if rec := s.Recovered(); rec != nil {
				fmt.Fprintln(stderr, "warning:", rec)
			}
			st, err := s.ImportFail2ban(ctx, args[0], store.ImportOptions{
				DefaultBanTime: banTime, Positions: positions,
			})
			if err != nil {
				return err
			}
			for _, sk := range st.Skipped {
				fmt.Fprintln(stderr, "skipped:", sk)
			}
			fmt.Fprintf(cmd.OutOrStdout(),
				"imported %s (fail2ban schema %d) into %s: %d jails, %d history entries, %d active bans, %d log positions, %d skipped\n",
				args[0], st.Version, s.Path(), st.Jails, st.History, st.Active, st.Positions, len(st.Skipped))
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", defaultDBPath, "warden database to import into (created if missing)")
	cmd.Flags().BoolVar(&positions, "positions", false,
		"also import log file positions (their hash is fail2ban's md5 of the first line)")
	cmd.Flags().DurationVar(&banTime, "default-bantime", 10*time.Minute,
		"ban time for bans the fail2ban file records none for (schema 1 and 2)")
	return cmd
}
