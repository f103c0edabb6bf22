// Package server wires a loaded Config into running jails: one log source,
// filter and failure tracker per enabled jail, one ban manager for all of
// them (nftables natively, other actions through the shell), the ban
// database and the control socket.
//
// Run owns every part it starts. Shutdown, when Run's context ends, goes in
// this order: the sources stop (saving their positions), the lines already
// read are drained through filter and jail into the ban manager, the ban
// manager finishes its queued work and runs every action's stop, then the
// firewall connection and the store are closed. Firewall bans stay in place
// on purpose (they carry kernel timeouts and the store restores them).
//
// A reload (Server.Reload: SIGHUP or `client reload`) and a client's start
// or stop of one jail replace the running generation (jails, ban manager,
// nftables Setup) in Run's loop, on the same store, backend connection and
// control socket; reload.go says what each jail keeps. A configuration
// with errors is refused and the running one stays.
//
// Not there yet: runtime option changes other than bantime (a bantime set
// by a client lasts until the next reload).
package server
