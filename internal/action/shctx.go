package action

import "strings"

// shCtx is the quoting context at a point of a shell script, as far as a
// variable reference placed there is concerned.
type shCtx int

const (
	ctxPlain  shCtx = iota // outside quotes: a reference needs double quotes
	ctxDouble              // inside "..." or an expanding here-document
	ctxSingle              // inside '...': close, reference, reopen
	ctxInert               // comment or literal here-document: nothing expands
)

// frame kinds of the scanner's stack.
const (
	fTop      = iota
	fDouble   // "..."
	fSingle   // '...'
	fSubst    // $( ... )
	fBacktick // `...`
	fBrace    // ${ ... } outside double quotes
	fBraceDQ  // ${ ... } inside double quotes
)

// heredoc is a here-document whose body is still to come.
type heredoc struct {
	delim     string
	stripTabs bool // <<-
	literal   bool // the delimiter was quoted: the body does not expand
}

// contextAt scans script (text written so far) and tells the context at
// its end. It knows POSIX sh quoting, comments, $( ), ${ }, backquotes
// and here-documents; where it guesses wrong the reference is merely
// quoted less well (it is never code), see varRef.
func contextAt(script string) shCtx {
	stack := []int{fTop}
	var pending []heredoc
	parens := []int{0} // open ( ) per fSubst level, so "$( (a) )" closes right
	wordStart := true
	s := script
	for i := 0; i < len(s); i++ {
		c := s[i]
		top := stack[len(stack)-1]
		switch top {
		case fSingle:
			if c == '\'' {
				stack = stack[:len(stack)-1]
				wordStart = false
			}
			continue
		case fDouble, fBraceDQ:
			switch {
			case c == '\\':
				i++
			case c == '"' && top == fDouble:
				stack = stack[:len(stack)-1]
			case c == '}' && top == fBraceDQ:
				stack = stack[:len(stack)-1]
			case c == '`':
				stack = append(stack, fBacktick)
				wordStart = true
			case c == '$' && i+1 < len(s) && s[i+1] == '(':
				stack = append(stack, fSubst)
				parens = append(parens, 0)
				wordStart = true
				i++
			case c == '$' && i+1 < len(s) && s[i+1] == '{':
				stack = append(stack, fBraceDQ)
				i++
			}
			continue
		}
		// Unquoted-like frames: top level, $( ), ` `, ${ }.
		switch {
		case c == '\\':
			i++
			wordStart = false
		case c == '\'':
			stack = append(stack, fSingle)
		case c == '"':
			stack = append(stack, fDouble)
		case c == '`' && top == fBacktick:
			stack = stack[:len(stack)-1]
			wordStart = false
		case c == '`':
			stack = append(stack, fBacktick)
			wordStart = true
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			stack = append(stack, fSubst)
			parens = append(parens, 0)
			wordStart = true
			i++
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			stack = append(stack, fBrace)
			i++
			wordStart = false
		case c == '}' && top == fBrace:
			stack = stack[:len(stack)-1]
			wordStart = false
		case c == '(':
			parens[len(parens)-1]++
			wordStart = true
		case c == ')':
			if top == fSubst && parens[len(parens)-1] == 0 {
				stack = stack[:len(stack)-1]
				parens = parens[:len(parens)-1]
				wordStart = false
			} else {
				if parens[len(parens)-1] > 0 {
					parens[len(parens)-1]--
				}
				wordStart = true
			}
		case c == '#' && wordStart:
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return ctxInert
			}
			i += nl - 1 // the newline itself is handled next round
		case c == '<' && strings.HasPrefix(s[i:], "<<") && !strings.HasPrefix(s[i:], "<<<"):
			h, n := readHeredocOp(s[i:])
			if n == 0 {
				i++
				continue
			}
			pending = append(pending, h)
			i += n - 1
			wordStart = false
		case c == '\n':
			wordStart = true
			if len(pending) > 0 {
				end, k, inside := skipBodies(s[i+1:], pending)
				if inside {
					if pending[k].literal {
						return ctxInert
					}
					return ctxDouble
				}
				pending = nil
				i += end
			}
		case c == ' ' || c == '\t' || c == ';' || c == '&' || c == '|' || c == '<' || c == '>':
			wordStart = true
		default:
			wordStart = false
		}
	}
	switch stack[len(stack)-1] {
	case fSingle:
		return ctxSingle
	case fDouble, fBraceDQ:
		return ctxDouble
	}
	return ctxPlain
}

// readHeredocOp reads "<<WORD" or "<<-WORD" (WORD possibly quoted) at the
// start of s and returns the here-document and the bytes it took; n is 0
// when no delimiter follows.
func readHeredocOp(s string) (h heredoc, n int) {
	i := 2
	if i < len(s) && s[i] == '-' {
		h.stripTabs = true
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	var word strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			h.literal = true
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				word.WriteString(s[i+1:])
				i = len(s)
				continue
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '\\':
			h.literal = true
			if i+1 < len(s) {
				word.WriteByte(s[i+1])
			}
			i += 2
		case strings.IndexByte(" \t\n;&|<>()", c) >= 0:
			h.delim = word.String()
			if h.delim == "" {
				return h, 0
			}
			return h, i
		default:
			word.WriteByte(c)
			i++
		}
	}
	h.delim = word.String()
	if h.delim == "" {
		return h, 0
	}
	return h, min(i, len(s))
}

// skipBodies walks the bodies of the pending here-documents in s (which
// starts right after the newline that ends their command line). It
// returns how many bytes they take, or inside=true and the index of the
// here-document when s ends within body k.
func skipBodies(s string, pending []heredoc) (end, k int, inside bool) {
	pos := 0
	for k = range pending {
		h := pending[k]
		for {
			nl := strings.IndexByte(s[pos:], '\n')
			if nl < 0 {
				return 0, k, true
			}
			line := s[pos : pos+nl]
			pos += nl + 1
			if h.stripTabs {
				line = strings.TrimLeft(line, "\t")
			}
			if line == h.delim {
				break
			}
		}
	}
	return pos, 0, false
}
