package conformance

import "io/fs"

// embeddedFS returns warden's embedded configuration tree (package
// internal/defaults), or nil while it has none.
func embeddedFS() fs.FS { return nil }
