package server

import (
	"warden/internal/ban"
	"warden/internal/config"
)

// notifyAction returns a native (Go) action standing in for a fail2ban mail action, or ok=false.
func notifyAction(a *config.Action, j *config.Jail, o *Options) (act ban.Action, ok bool, err error) {
	return nil, false, nil
}
