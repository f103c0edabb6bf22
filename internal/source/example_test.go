package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"warden/internal/source"
)

// The daemon's use: one source per jail log, run until its context ends;
// the jail owns the channel and reads the lines.
func ExampleFile() {
	dir, _ := os.MkdirTemp("", "warden-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "auth.log")
	_ = os.WriteFile(path, []byte("sshd[1]: Invalid user bob from 192.0.2.9\nsshd[1]: Connection closed\n"), 0o644)

	src, err := source.NewFile(source.FileOptions{
		Files: []source.FileSpec{{Pattern: filepath.Join(dir, "*.log"), Head: true}},
		Mode:  source.ModePolling,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan source.Line)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, lines) }()
	for range 2 {
		l := <-lines
		fmt.Printf("%s @%d\n", l.Text, l.Offset)
	}
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// sshd[1]: Invalid user bob from 192.0.2.9 @41
	// sshd[1]: Connection closed @68
	// run: <nil>
}
