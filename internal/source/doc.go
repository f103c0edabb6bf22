// Package source reads log lines from files (tailing across rotation) and
// from the systemd journal, and hands them on in order, one source per goroutine.
package source
