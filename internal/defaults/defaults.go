// Package defaults holds warden's own configuration tree (jails, filters,
// actions), embedded in the binary and used when no tree is on disk.
package defaults
