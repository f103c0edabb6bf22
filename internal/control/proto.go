package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version of the request/response format this
// package speaks. A request with another version is answered "bad_version".
const ProtocolVersion = 1

// DefaultSocket is where the daemon listens unless configured otherwise.
const DefaultSocket = "/run/warden/warden.sock"

// DefaultMaxMessage caps one message (request or response line) in bytes.
const DefaultMaxMessage = 1 << 20

// Limits on a decoded command, well above anything fail2ban-client sends.
const (
	maxWords   = 4096
	maxWordLen = 64 << 10
)

// Request is one call from a client.
type Request struct {
	Version int               `json:"version"`
	ID      uint64            `json:"id"`
	Command []string          `json:"command"`
	Options map[string]string `json:"options,omitempty"`
}

// Response answers the Request with the same ID.
type Response struct {
	Version int             `json:"version"`
	ID      uint64          `json:"id"`
	OK      bool            `json:"ok"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Code names a class of failure on the wire.
type Code string

// The error codes a server sends.
const (
	CodeBadRequest     Code = "bad_request"
	CodeBadVersion     Code = "bad_version"
	CodeTooLarge       Code = "too_large"
	CodeUnknownCommand Code = "unknown_command"
	CodeBadArgs        Code = "bad_args"
	CodeBadAddress     Code = "bad_address"
	CodeUnknownJail    Code = "unknown_jail"
	CodeUnknownOption  Code = "unknown_option"
	CodeNotSupported   Code = "not_supported"
	CodeBusy           Code = "busy"
	CodeDenied         Code = "denied"
	CodeInternal       Code = "internal"
)

// Sentinel errors, one per Code. A Handler returns (a wrapping of) one of
// them to choose the code sent; a Client's *Error matches them with
// errors.Is.
var (
	ErrBadRequest     = errors.New("malformed request")
	ErrBadVersion     = errors.New("unsupported protocol version")
	ErrTooLarge       = errors.New("message too large")
	ErrUnknownCommand = errors.New("unknown command")
	ErrBadArgs        = errors.New("invalid arguments")
	ErrBadAddress     = errors.New("invalid IP address")
	ErrUnknownJail    = errors.New("unknown jail")
	ErrUnknownOption  = errors.New("unknown option")
	ErrNotSupported   = errors.New("not supported")
	ErrBusy           = errors.New("server busy")
	ErrDenied         = errors.New("permission denied")
	ErrInternal       = errors.New("internal server error")
)

// codes pairs each code with its sentinel. It is never modified.
var codes = [...]struct {
	code Code
	err  error
}{
	{CodeBadRequest, ErrBadRequest},
	{CodeBadVersion, ErrBadVersion},
	{CodeTooLarge, ErrTooLarge},
	{CodeUnknownCommand, ErrUnknownCommand},
	{CodeBadArgs, ErrBadArgs},
	{CodeBadAddress, ErrBadAddress},
	{CodeUnknownJail, ErrUnknownJail},
	{CodeUnknownOption, ErrUnknownOption},
	{CodeNotSupported, ErrNotSupported},
	{CodeBusy, ErrBusy},
	{CodeDenied, ErrDenied},
	{CodeInternal, ErrInternal},
}

// Error is a failure reported by the server.
type Error struct {
	Code Code   `json:"code"`
	Msg  string `json:"msg"`
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return string(e.Code)
	}
	return e.Msg
}

// Is reports whether target is the sentinel for e's code.
func (e *Error) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.Code {
			return c.err == target
		}
	}
	return false
}

// errorFor turns a Handler or parse error into its wire form. Errors that
// wrap no sentinel are reported as internal, with their text.
func errorFor(err error) *Error {
	var we *Error
	if errors.As(err, &we) {
		return &Error{Code: we.Code, Msg: we.Msg}
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return &Error{Code: c.code, Msg: err.Error()}
		}
	}
	return &Error{Code: CodeInternal, Msg: err.Error()}
}

// ReadFrame reads one newline-terminated message from r, without the
// newline (and without a preceding '\r'). It returns ErrTooLarge when the
// line exceeds max bytes (the rest of the line is left unread),
// io.EOF at a clean end of input, and io.ErrUnexpectedEOF when the input
// ends inside a line.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		n := len(line)
		if err == nil {
			n-- // the newline does not count
		}
		if n > max {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, max)
		}
		switch {
		case err == nil:
			line = line[:len(line)-1]
			return bytes.TrimSuffix(line, []byte{'\r'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: %d bytes without a newline", io.ErrUnexpectedEOF, len(line))
		default:
			return nil, err
		}
	}
}

// DecodeRequest parses one request line and checks its envelope: the
// version and the shape of the command (1 to 4096 words, each at most
// 64 KiB, no empty first word). It does not interpret the words; see
// ParseCommand. On error the returned Request still carries the ID when it
// could be read, so the answer can name it.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&req); err != nil {
		// Salvage the id for the reply if the envelope is an object.
		var probe struct {
			ID uint64 `json:"id"`
		}
		_ = json.Unmarshal(line, &probe)
		return Request{ID: probe.ID}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return Request{ID: req.ID}, fmt.Errorf("%w: data after the JSON object", ErrBadRequest)
	}
	if req.Version != ProtocolVersion {
		return Request{ID: req.ID}, fmt.Errorf("%w %d (this server speaks %d)", ErrBadVersion, req.Version, ProtocolVersion)
	}
	if len(req.Command) == 0 {
		return Request{ID: req.ID}, fmt.Errorf("%w: empty command", ErrBadRequest)
	}
	if len(req.Command) > maxWords {
		return Request{ID: req.ID}, fmt.Errorf("%w: %d words (at most %d)", ErrBadRequest, len(req.Command), maxWords)
	}
	for i, w := range req.Command {
		if len(w) > maxWordLen {
			return Request{ID: req.ID}, fmt.Errorf("%w: word %d is %d bytes (at most %d)", ErrBadRequest, i, len(w), maxWordLen)
		}
	}
	if req.Command[0] == "" {
		return Request{ID: req.ID}, fmt.Errorf("%w: empty command name", ErrBadRequest)
	}
	return req, nil
}

// writeMessage encodes v as one line on w.
func writeMessage(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}
