package action

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// shellSpecial lists the characters that make fail2ban pass a dynamic
// value through a variable rather than write it into the script: a value
// without any of them (nor a newline, carriage return or NUL) cannot
// change what the shell parses.
const shellSpecial = "\\#&;`|*?~<>^()[]{}$'\""

// maxArg is the longest single argument Linux passes to a program
// (MAX_ARG_STRLEN less the terminating NUL); longer values are cut so the
// command still runs.
const maxArg = 32*4096 - 1

// needsVar tells whether v must reach the shell as a variable.
func needsVar(v string) bool {
	return strings.ContainsAny(v, shellSpecial+"\n\r\x00")
}

// Command is a ready command: shell text and the values of the variables
// it refers to.
type Command struct {
	// Script is the text for /bin/sh -c. When Args is not empty it starts
	// with a line binding each f2bV_ variable to a positional parameter
	// ("f2bV_matches=$0 f2bV_F_user=$1 ").
	Script string
	// Args are the positional parameters $0, $1, ...: the outside values.
	Args []string
	// Op names the operation ("actionban") and Family the address family
	// it ran for ("" when the action has no family variants).
	Op, Family string
}

// String renders c for logs.
func (c Command) String() string {
	if len(c.Args) == 0 {
		return c.Script
	}
	var b strings.Builder
	b.WriteString(c.Script)
	for _, a := range c.Args {
		b.WriteString(" ")
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

// shellQuote single-quotes s for display.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// valueFunc returns a dynamic tag's value; ok=false when the tag is not a
// dynamic one.
type valueFunc func(tag string) (v string, ok bool)

// fieldFunc returns the F-* field called name (lower case, fail2ban's
// option spelling), "" when absent.
type fieldFunc func(name string) string

// expandDynamic replaces the dynamic tags of cmd once, left to right, with
// no recursion: values are outside data. A value that needsVar becomes a
// variable reference and an argument; tags that are neither dynamic nor
// extra stay as written.
func expandDynamic(cmd string, value valueFunc, field fieldFunc, x extraTags, op, family string) Command {
	if !strings.Contains(cmd, "<") {
		return Command{Script: cmd, Op: op, Family: family}
	}
	type binding struct{ name, val string }
	var plain, fields []binding // fail2ban binds the F-* ones last
	bound := map[string]int{}   // variable name -> 1+index, negative for fields
	var b strings.Builder
	last := 0
	for _, loc := range tagRE.FindAllStringSubmatchIndex(cmd, -1) {
		tag := cmd[loc[2]:loc[3]]
		v, ok := value(tag)
		isField := false
		varTag := tag
		if !ok && fieldTagRE.MatchString(tag) {
			name := fieldOptName(tag[2:])
			v, ok, isField, varTag = field(name), true, true, "F_"+name
		}
		if !ok {
			v, ok = x.get(tag)
			if !ok {
				continue
			}
			// The extra tags are ours (newline, blank, host name): they
			// are written as they are.
			b.WriteString(cmd[last:loc[0]])
			b.WriteString(v)
			last = loc[1]
			continue
		}
		b.WriteString(cmd[last:loc[0]])
		last = loc[1]
		if !needsVar(v) {
			b.WriteString(v)
			continue
		}
		name := "f2bV_" + wordChars(varTag)
		v = cleanArg(v)
		if i, ok := bound[name]; ok {
			// The same tag again: same variable, the latest value (it is
			// the same value but for F-ID/F-FID spellings).
			if i > 0 {
				plain[i-1].val = v
			} else {
				fields[-i-1].val = v
			}
		} else if isField {
			fields = append(fields, binding{name, v})
			bound[name] = -len(fields)
		} else {
			plain = append(plain, binding{name, v})
			bound[name] = len(plain)
		}
		b.WriteString(varRef(name, contextAt(b.String())))
	}
	b.WriteString(cmd[last:])
	if len(plain)+len(fields) == 0 {
		return Command{Script: b.String(), Op: op, Family: family}
	}
	var head strings.Builder
	var args []string
	for i, bd := range append(plain, fields...) {
		head.WriteString(bd.name)
		head.WriteString("=$")
		head.WriteString(itoa(i))
		head.WriteString(" ")
		args = append(args, bd.val)
	}
	return Command{Script: head.String() + "\n" + b.String(), Args: args, Op: op, Family: family}
}

// fieldOptName maps a capture tag name to the ticket data key: lower case,
// with ID and PORT renamed to fid and fport as fail2ban's filter does.
func fieldOptName(tag string) string {
	t := strings.ToLower(tag)
	switch t {
	case "id":
		return "fid"
	case "port":
		return "fport"
	}
	return t
}

// wordChars replaces every character that cannot be part of a shell
// variable name by '_'.
func wordChars(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, s)
}

// cleanArg makes v passable as a program argument: NUL bytes (which no
// argument can hold) become U+FFFD, and the value is cut to maxArg bytes
// at a character boundary.
func cleanArg(v string) string {
	if strings.IndexByte(v, 0) >= 0 {
		v = strings.ReplaceAll(v, "\x00", "\uFFFD")
	}
	if len(v) > maxArg {
		cut := maxArg
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}

// varRef is the text standing for variable name in a script position of
// the given kind.
func varRef(name string, k shCtx) string {
	switch k {
	case ctxPlain:
		return `"$` + name + `"`
	case ctxSingle:
		return `'"$` + name + `"'`
	default:
		return "${" + name + "}"
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
