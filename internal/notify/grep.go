package notify

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
)

// maxLine bounds one log line read for a ban message; longer lines are cut.
const maxLine = 64 << 10

// grepLogs returns the lines of the files matching globs that contain word
// as a whole word (fail2ban's grep -wF): at most perFile from each file,
// then the last max of them all.
func grepLogs(ctx context.Context, globs []string, word string, perFile, max int) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		if err != nil {
			continue
		}
		for _, p := range paths {
			if seen[p] || ctx.Err() != nil {
				continue
			}
			seen[p] = true
			out = append(out, grepFile(ctx, p, word, perFile)...)
			if len(out) > max {
				out = out[len(out)-max:]
			}
		}
	}
	return out
}

func grepFile(ctx context.Context, path, word string, limit int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, maxLine)
	var out []string
	for n := 0; len(out) < limit; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			break
		}
		line, isPrefix, err := r.ReadLine()
		if err != nil {
			break
		}
		s := string(line)
		for isPrefix && err == nil { // skip the rest of an over-long line
			_, isPrefix, err = r.ReadLine()
		}
		if hasWord(s, word) {
			out = append(out, s)
		}
	}
	return out
}

// hasWord reports whether w occurs in s with no word character (letter,
// digit, underscore) right before or after it.
func hasWord(s, w string) bool {
	if w == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isWordByte(s[j-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		i = j + 1
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
