// Package defaults holds warden's own configuration tree (jails, filters,
// actions), embedded in the binary and used when no tree is on disk.
//
// The tree is written in fail2ban's configuration dialect (INI sections,
// [INCLUDES], %(name)s and <tag> interpolation, [Init] parameters), so the
// same loader reads it and a user's jail.local on top of it, and fail2ban
// itself can read it too.
package defaults

import (
	"embed"
	"io/fs"
)

//go:embed tree
var tree embed.FS

// root is the directory of the embedded tree that FS returns.
const root = "tree"

// FS returns the embedded configuration tree, rooted so that "jail.conf",
// "filter.d/sshd.conf" and "action.d/nftables.conf" are at its top. The
// result is read-only and safe for concurrent use.
func FS() fs.FS {
	sub, err := fs.Sub(tree, root)
	if err != nil {
		// fs.Sub fails only on an invalid path, and root is a constant.
		panic("defaults: " + err.Error())
	}
	return sub
}
