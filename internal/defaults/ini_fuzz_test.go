package defaults

import (
	"io/fs"
	"reflect"
	"testing"
)

// FuzzParseINI checks that the test reader never panics and that what it
// accepts survives a render / parse round trip unchanged.
func FuzzParseINI(f *testing.F) {
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(FS(), p)
		if err == nil {
			f.Add(string(data))
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "[a]\n", "[a]\nk = v\n\tcont\n", "k = v\n", "[a]\n\tcont\n", "[a\n", "[a]\n[a]\n",
		"[a]\nk = 1\nK = 2\n", "[a]\n; c\n# c\nk=v=w\n", "[a]\nk =\n", "[ ]\n= v\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		a, err := parseINI("fuzz", text)
		if err != nil {
			return
		}
		out := a.render()
		b, err := parseINI("rendered", out)
		if err != nil {
			t.Fatalf("rendered form does not parse: %v\n%s", err, out)
		}
		a.Name, b.Name = "", ""
		if !reflect.DeepEqual(stripLines(a), stripLines(b)) {
			t.Fatalf("round trip changed the file:\n%q\n%q", text, out)
		}
	})
}

// stripLines drops line numbers, which rendering does not keep.
func stripLines(f *iniFile) *iniFile {
	g := &iniFile{}
	for _, s := range f.Sections {
		ns := &iniSection{Name: s.Name}
		for _, k := range s.Keys {
			ns.Keys = append(ns.Keys, iniKey{Name: k.Name, Value: k.Value})
		}
		g.Sections = append(g.Sections, ns)
	}
	return g
}
