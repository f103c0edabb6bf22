package config

import (
	"os"
	"testing"
)

func BenchmarkParseTime(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := ParseTime("1 hour 30 min"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadRealTree measures loading the installed fail2ban tree with
// every jail resolved.
func BenchmarkLoadRealTree(b *testing.B) {
	if _, err := os.Stat(realTree + "/jail.conf"); err != nil {
		b.Skip("no tree")
	}
	fsys := os.DirFS(realTree)
	for i := 0; i < b.N; i++ {
		if _, err := Load(fsys, Options{Root: realTree, ForceEnable: true}); err != nil {
			b.Fatal(err)
		}
	}
}
