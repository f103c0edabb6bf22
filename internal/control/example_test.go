package control_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"warden/internal/control"
)

// The daemon serves its Handler on the socket; `warden client` (or any Go
// program) dials it and makes typed calls.
func Example() {
	dir, _ := os.MkdirTemp("", "wctl")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "warden.sock")

	ln, err := control.Listen(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- control.Serve(ctx, ln, exampleDaemon{}, control.ServeOptions{}) }()

	c, err := control.Dial(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := c.BanIP(ctx, "sshd", netip.MustParseAddr("192.0.2.1"))
	fmt.Println(n, err)
	_, err = c.BanIP(ctx, "nope", netip.MustParseAddr("192.0.2.1"))
	fmt.Println(err)

	c.Close()
	cancel()
	fmt.Println(<-done)
	// Output:
	// 1 <nil>
	// unknown jail "nope"
	// <nil>
}

// exampleDaemon knows one jail, sshd.
type exampleDaemon struct{ control.Handler }

func (exampleDaemon) BanIP(_ context.Context, jail string, ips []netip.Prefix) (int, error) {
	if jail != "sshd" {
		return 0, fmt.Errorf("%w %q", control.ErrUnknownJail, jail)
	}
	return len(ips), nil
}
