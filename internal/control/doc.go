// Package control is warden's control channel: the wire protocol spoken
// over the daemon's Unix socket, the server loop that hands each request to
// a Handler the daemon implements, and a Client with typed calls.
//
// # Transport
//
// The daemon listens on a Unix stream socket, /run/warden/warden.sock by
// default. [Listen] creates it with mode 0600 (so only its owner, root, can
// connect), creates a missing parent directory with mode 0700, removes a
// stale socket file left by a daemon that died, and refuses to start when
// another process still answers on the path or the path is not a socket.
// The server also checks the peer's credentials (SO_PEERCRED): only root
// and the daemon's own user are served unless [ServeOptions.AllowUIDs]
// says otherwise.
//
// # Framing
//
// Messages are newline-delimited JSON: one JSON object per line, encoded
// without raw newlines (encoding/json never emits one), terminated by a
// single '\n'. A connection may carry any number of requests; each is
// answered, in order, before the next is read. Blank lines are ignored.
//
// # Messages
//
// A request is
//
//	{"version":1,"id":7,"command":["set","sshd","banip","192.0.2.1"],"options":{}}
//
// where command holds fail2ban-client's words (see [ParseCommand] for the
// accepted forms) and options is reserved for per-request hints; unknown
// option keys are ignored. A response is
//
//	{"version":1,"id":7,"ok":true,"result":1}
//	{"version":1,"id":7,"ok":false,"error":{"code":"unknown_jail","msg":"..."}}
//
// id is echoed back (0 when the request could not be decoded far enough to
// read it). The result's JSON shape depends on the command and is the JSON
// form of the Handler method's return value; a ban in it is a [Target],
// written as its bare address ("192.0.2.1") or, for a prefix ban, as its
// network ("2001:db8:1:2::/64"). Commands that take addresses take such
// networks too. Error codes are the Code constants; each maps to a
// sentinel error (ErrUnknownJail, ...) so callers can test a client-side
// error with errors.Is.
//
// # Limits and faults
//
// A message longer than [ServeOptions.MaxMessage] (1 MiB by default) is
// answered with code "too_large" and the connection is closed. A line that
// is not a valid request gets a "bad_request" (or "bad_version") response
// and the connection stays usable. A peer that sends nothing, or only part
// of a line, for [ServeOptions.ReadTimeout] (10 s by default) is dropped; a
// half-written line followed by end of file is answered with "bad_request"
// if the peer still reads, then closed. A panic in the Handler is recovered
// and reported as "internal". At most [ServeOptions.MaxConns] connections
// are served at once; further ones are answered "busy" and closed.
package control
