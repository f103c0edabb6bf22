package ban

import (
	"context"
	"errors"
	"testing"

	"warden/internal/store"
)

func TestNewRejects(t *testing.T) {
	st := openStore(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{}},
		{"bad jail name", Config{Store: st, Jails: []JailConfig{{Name: "a b"}}}},
		{"duplicate", Config{Store: st, Jails: []JailConfig{{Name: "a"}, {Name: "a"}}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestStopped(t *testing.T) {
	m, err := New(Config{Store: openStore(t), Jails: []JailConfig{{Name: "sshd"}}, Clock: newFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := m.BanIP(context.Background(), "sshd", pfx("192.0.2.1")); !errors.Is(err, ErrStopped) {
		t.Errorf("ban after Run ended: %v", err)
	}
}

// failingStore is a real store whose AddBans fails, as on a full disk.
type failingStore struct{ *store.Store }

func (failingStore) AddBans(context.Context, []store.Ban) error {
	return &store.Error{Op: "add bans", Kind: store.ErrDiskFull, Err: errors.New("disk full")}
}

func TestStoreFailureKeepsBan(t *testing.T) {
	var st *store.Store
	e := newEnv(t, func(c *Config) {
		st = c.Store.(*store.Store)
		c.Store = failingStore{st}
		c.Jails[0].Actions = nil
	})
	res, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", t0))
	if err != nil || !res.Banned {
		t.Fatalf("Ban = %+v, %v", res, err)
	}
	e.sync(t)
	if _, ok := e.fw.has("sshd", pfx("192.0.2.1")); !ok {
		t.Error("the ban did not reach the firewall")
	}
	if c := e.m.Counters(); c.StoreErrors != 1 {
		t.Errorf("store errors %d", c.StoreErrors)
	}
	if len(storedBans(t, st, t0)) != 0 {
		t.Error("stored anyway?")
	}
}
