// Package server wires a loaded Config into running jails: one log source,
// filter and failure tracker per enabled jail, one ban manager for all of
// them, the native firewall backends, the shell and Go actions, the ban
// database and the control socket.
//
// # Firewall
//
// Native backends stand in for fail2ban actions of some action.d names
// (native.go: one nativeKind each, nftables first; ipset and firewalld plug
// in the same way). A jail gets at most one native rule set; its other
// actions run as shell commands, or as Go actions where notifyAction has
// one. "banaction = auto" picks the first kind Available on this host, once
// per server, and logs which and why. Each kind in use is opened once per
// run and set up with its own jails in every generation; the ban manager
// sees it through a filter that passes only those jails' bans, and heals it
// every healinterval (fail2ban.conf [Definition], default 5s, 0 = never).
//
// # Shutdown
//
// Run owns every part it starts. Shutdown, when Run's context ends, goes in
// this order: the sources stop (saving their positions), the lines already
// read are drained through filter and jail into the ban manager, the ban
// manager finishes its queued work and runs every action's stop, then the
// native backends remove everything they created (unless keepbans = true
// in fail2ban.conf or Options.KeepBans: the bans then stay in the kernel
// with their timeouts, and the next start takes them over), and the store
// is closed. After a crash the store restores every ban at the next start.
//
// # Changes while running
//
// A reload (Server.Reload: SIGHUP or `client reload`), a client's start or
// stop of one jail, and a runtime option set on a jail (runtime.go)
// replace the running generation (jails, ban manager, backend Setup) in
// Run's loop, on the same store, backends and control socket; reload.go
// says what each jail keeps. bantime and bantime.* are the exception: they
// change in the running ban manager. A configuration with errors is
// refused and the running one stays.
package server
