package action_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"warden/internal/action"
	"warden/internal/config"
)

// The ban manager's use: load the jail's actions, start them, ban.
func Example() {
	dir, _ := os.MkdirTemp("", "action-example")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "action.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "action.d", "note.conf"), []byte(
		"[Definition]\nactionban = printf 'banned %%s (user %%s)\\n' <ip> \"<F-USER>\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "jail.conf"), []byte(
		"[sshd]\nenabled = true\nlogpath = /dev/null\naction = note\n"), 0o644)

	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	jail := cfg.Jail("sshd")
	a, err := action.New(jail.Actions[0], action.Options{Jail: jail.Name, Runner: printRunner{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_ = a.Start(ctx)
	err = a.Ban(ctx, action.Ticket{
		Addr:   netip.MustParseAddr("192.0.2.7"),
		Fields: map[string]string{"user": "$(reboot)"},
	})
	fmt.Println("error:", err)
	// Output:
	// banned 192.0.2.7 (user $(reboot))
	// error: <nil>
}

// printRunner runs commands with the real shell and prints their output.
type printRunner struct{ action.ShellRunner }

func (r printRunner) Run(ctx context.Context, c action.Command, d time.Duration) (action.Result, error) {
	res, err := r.ShellRunner.Run(ctx, c, d)
	fmt.Print(string(res.Stdout))
	return res, err
}
