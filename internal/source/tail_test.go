package source

import (
	"bytes"
	"testing"
)

// FuzzTailerLines feeds data to the line splitter in pieces and checks the
// lines against a plain split: same text (cut at maxLine, '\r' dropped only
// from uncut lines) and offsets just after each newline.
func FuzzTailerLines(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc"), uint8(3), uint8(2))
	f.Add([]byte("\n\n\xff\xfe\n"), uint8(1), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 300), uint8(7), uint8(50))
	f.Fuzz(func(t *testing.T, data []byte, piece, maxLine uint8) {
		tl := newTailer("f", int(maxLine)+1)
		step := int(piece) + 1
		for i := 0; i < len(data); i += step {
			tl.consume(data[i:min(i+step, len(data))])
		}
		var off int64
		var want []Line
		parts := bytes.Split(data, []byte{'\n'})
		for _, p := range parts[:len(parts)-1] {
			off += int64(len(p)) + 1
			text := p
			if len(text) > tl.maxLine {
				text = text[:tl.maxLine]
			} else {
				text = bytes.TrimSuffix(text, []byte{'\r'})
			}
			want = append(want, Line{Text: string(text), Path: "f", Offset: off})
		}
		if len(tl.queued) != len(want) {
			t.Fatalf("%d lines, want %d", len(tl.queued), len(want))
		}
		for i := range want {
			if g := tl.queued[i]; g.Text != want[i].Text || g.Offset != want[i].Offset || g.Path != want[i].Path {
				t.Fatalf("line %d = %+v, want %+v", i, tl.queued[i], want[i])
			}
		}
		if tl.rpos != int64(len(data)) || len(tl.held) > tl.maxLine {
			t.Fatalf("rpos %d held %d", tl.rpos, len(tl.held))
		}
	})
}
