// Command warden is an intrusion-prevention daemon compatible with fail2ban's
// configuration, filters and client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run builds the command tree and executes it. It returns the process exit
// code. It is separate from main so tests can drive the CLI in-process.
func run(ctx context.Context, args []string, stdin *os.File, stdout, stderr *os.File) int {
	// Invoked through a compatibility symlink, behave like that tool.
	switch filepath.Base(args[0]) {
	case "fail2ban-regex":
		args = append([]string{args[0], "regex", "--fail2ban-compat"}, args[1:]...)
	case "fail2ban-client":
		args = append([]string{args[0], "client", "--fail2ban-compat"}, args[1:]...)
	}
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args[1:])
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if asExit(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(stderr, "warden:", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "warden:", err)
		return 1
	}
	return 0
}

func newRootCmd(stdin *os.File, stdout, stderr *os.File) *cobra.Command {
	root := &cobra.Command{
		Use:           "warden",
		Short:         "warden bans addresses that show malicious signs in log files",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Each subcommand lives in its own file and is added here.
	root.AddCommand(
		newVersionCmd(),
		newRegexCmd(stdout, stderr),
		newConfigCmd(),
		newImportFail2banCmd(),
		newClientCmd(stdout, stderr),
		newServerCmd(),
		newWhoisCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print warden's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "warden", version)
			return nil
		},
	}
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func asExit(err error, target *exitError) bool {
	if e, ok := err.(exitError); ok {
		*target = e
		return true
	}
	return false
}
