package conformance

import (
	"io/fs"

	"warden/internal/defaults"
)

// embeddedFS returns warden's embedded configuration tree.
func embeddedFS() fs.FS { return defaults.FS() }
