package jail

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrCommand reports an ignorecommand that cannot be parsed or that exited
// with a code other than 0 (ignore) or 1 (do not ignore).
var ErrCommand = errors.New("jail: ignorecommand")

// CommandRunner runs argv and returns its exit code. err is for failures
// to run at all (not found, timeout), not for a non-zero exit.
type CommandRunner interface {
	Run(ctx context.Context, argv []string) (exitCode int, err error)
}

// ExecRunner runs commands with os/exec, killing them after Timeout.
type ExecRunner struct{ Timeout time.Duration }

var _ CommandRunner = ExecRunner{}

// Run implements CommandRunner.
func (r ExecRunner) Run(ctx context.Context, argv []string) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("%w: empty command", ErrCommand)
	}
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return -1, fmt.Errorf("%w: %s: %w", ErrCommand, argv[0], ctx.Err())
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, fmt.Errorf("%w: %w", ErrCommand, err)
}

// Command is a parsed ignorecommand. Without shell syntax it runs directly,
// each word one argv element, a tag such as <ip> substituted inside its
// word (so a value is never split or interpreted). A command that uses the
// shell (pipes, redirections, $, ;, &&, globbing...) runs as sh -c with
// every substituted value quoted for the shell.
type Command struct {
	src   string
	words []string // unquoted words, tags still in place (direct mode)
	shell bool
	parts []shellPart // the command split at tags (shell mode)
}

type shellPart struct {
	text string // literal shell text, or the tag name
	tag  bool
	inDQ bool // the tag sits inside double quotes
}

// ParseCommand parses an ignorecommand value.
func ParseCommand(src string) (*Command, error) {
	c := &Command{src: src}
	var word strings.Builder
	inWord := false
	lit := strings.Builder{}
	flush := func() {
		if inWord {
			c.words = append(c.words, word.String())
			word.Reset()
			inWord = false
		}
	}
	quote := byte(0)
	for i := 0; i < len(src); i++ {
		ch := src[i]
		if ch == '<' && quote != '\'' {
			if end := tagEnd(src, i); end > 0 {
				c.parts = append(c.parts, shellPart{text: lit.String()}, shellPart{text: src[i+1 : end], tag: true, inDQ: quote == '"'})
				lit.Reset()
				word.WriteString(src[i : end+1])
				inWord = true
				i = end
				continue
			}
		}
		lit.WriteByte(ch)
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				word.WriteByte(ch)
			}
		case quote == '"':
			switch {
			case ch == '"':
				quote = 0
			case ch == '\\' && i+1 < len(src) && strings.IndexByte("\"\\$`", src[i+1]) >= 0:
				i++
				lit.WriteByte(src[i])
				word.WriteByte(src[i])
			case ch == '$' || ch == '`':
				c.shell = true
				word.WriteByte(ch)
			default:
				word.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote = ch
			inWord = true
		case ch == '\\' && i+1 < len(src):
			i++
			lit.WriteByte(src[i])
			word.WriteByte(src[i])
			inWord = true
		case ch == ' ' || ch == '\t':
			flush()
		case strings.IndexByte("|&;<>()$`*?[]~{}\n#=", ch) >= 0:
			// "=" only matters as a leading assignment, but
			// treating it as shell keeps VAR=x cmd working.
			if ch != '=' || !inWord || len(c.words) == 0 {
				c.shell = true
			}
			word.WriteByte(ch)
			inWord = true
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: %q: unterminated quote", ErrCommand, src)
	}
	flush()
	c.parts = append(c.parts, shellPart{text: lit.String()})
	if len(c.words) == 0 {
		return nil, fmt.Errorf("%w: %q: empty", ErrCommand, src)
	}
	return c, nil
}

// tagEnd returns the index of the '>' closing a tag that starts at i, or -1.
func tagEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '>' {
			if j == i+1 {
				return -1
			}
			return j
		}
		if !(c == '_' || c == '-' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return -1
		}
	}
	return -1
}

// Shell reports whether the command runs through sh -c.
func (c *Command) Shell() bool { return c.shell }

// Argv returns the argv the command runs for q.
func (c *Command) Argv(q Query) []string {
	if c.shell {
		var b strings.Builder
		for _, p := range c.parts {
			switch {
			case !p.tag:
				b.WriteString(p.text)
			case p.inDQ:
				v, ok := tagValue(p.text, q)
				if !ok {
					v = "<" + p.text + ">"
				}
				b.WriteString(dqEscape(v))
			default:
				v, ok := tagValue(p.text, q)
				if !ok {
					b.WriteString("<" + p.text + ">")
				} else {
					b.WriteString(ShellQuote(v))
				}
			}
		}
		return []string{"/bin/sh", "-c", b.String()}
	}
	argv := make([]string, len(c.words))
	for i, w := range c.words {
		argv[i] = expandTags(w, q, nil)
	}
	return argv
}

// Check runs the command: exit 0 means ignore, 1 means do not, anything
// else is an error.
func (c *Command) Check(ctx context.Context, r CommandRunner, q Query) (bool, error) {
	argv := c.Argv(q)
	code, err := r.Run(ctx, argv)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, fmt.Errorf("%w: %q exited with %d", ErrCommand, c.src, code)
}

// ShellQuote quotes s as one shell word.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_-+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func dqEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("\"\\$`", s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expandTags replaces the tags of q in s; quote, when set, quotes values.
func expandTags(s string, q Query, quote func(string) string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '<' {
			if end := tagEnd(s, i); end > 0 {
				if v, ok := tagValue(s[i+1:end], q); ok {
					if quote != nil {
						v = quote(v)
					}
					b.WriteString(v)
					i = end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tagValue returns the value of the tags an ignore check knows: ip, fid,
// family, name (the jail) and F-* fields.
func tagValue(tag string, q Query) (string, bool) {
	switch tag {
	case "ip":
		if q.Addr.IsValid() {
			return q.Addr.String(), true
		}
		return q.ID, true
	case "fid":
		return q.ID, true
	case "name":
		return q.Jail, true
	case "family":
		switch {
		case q.Addr.Is4():
			return "inet4", true
		case q.Addr.Is6():
			return "inet6", true
		}
		return "", true
	}
	if f, ok := strings.CutPrefix(tag, "F-"); ok {
		if v, ok := q.Fields[strings.ToLower(f)]; ok {
			return v, true
		}
		if v, ok := q.Fields[tag]; ok {
			return v, true
		}
		return "", true
	}
	return "", false
}
