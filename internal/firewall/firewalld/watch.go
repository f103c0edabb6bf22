package firewalld

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"

	"warden/internal/firewall"
)

// Watch turns firewalld's Reloaded signal, and firewalld (re)starting on
// the bus, into firewall.Watcher notifications. The Backend has one for its
// own rules; on its own, it tells a ban manager when the rules that shell
// actions made with firewall-cmd may be gone, so that their actioncheck
// runs at once instead of at the next heal round.
type Watch struct {
	conn    *dbus.Conn
	ownConn bool
	log     *slog.Logger

	// changed is signalled (never closed) when firewalld reloads or
	// starts; the signal goroutine owns the sending side and ends when
	// done is closed or the connection is.
	changed   chan struct{}
	signals   chan *dbus.Signal
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

var _ firewall.Watcher = (*Watch)(nil)

// NewWatch subscribes to firewalld's signals on conn, or, when conn is nil,
// on a new connection to the system bus (DBUS_SYSTEM_BUS_ADDRESS when set)
// that Close closes. firewalld need not run yet: its start is a
// notification too.
func NewWatch(conn *dbus.Conn, log *slog.Logger) (*Watch, error) {
	if log == nil {
		log = slog.Default()
	}
	w := &Watch{conn: conn, log: log, changed: make(chan struct{}, 1), done: make(chan struct{})}
	if w.conn == nil {
		c, err := dbus.ConnectSystemBus()
		if err != nil {
			return nil, fmt.Errorf("firewalld: connect to the system bus: %w", err)
		}
		w.conn, w.ownConn = c, true
	}
	if err := w.subscribe(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// WatchRunning connects to the system bus and, if firewalld runs there,
// watches it (Close closes the connection); otherwise it returns
// ErrNotRunning.
func WatchRunning(ctx context.Context, log *slog.Logger) (*Watch, error) {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("firewalld: connect to the system bus: %w", err)
	}
	if !Running(ctx, conn) {
		conn.Close()
		return nil, ErrNotRunning
	}
	w, err := NewWatch(conn, log)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w.ownConn = true
	return w, nil
}

// subscribe asks the bus for Reloaded and for changes of firewalld's bus
// name owner, and starts the goroutine that turns them into Changed
// notifications.
func (w *Watch) subscribe() error {
	if err := w.conn.AddMatchSignal(dbus.WithMatchInterface(ifaceMain), dbus.WithMatchMember(signalReloaded)); err != nil {
		return fmt.Errorf("firewalld: subscribe to Reloaded: %w", err)
	}
	if err := w.conn.AddMatchSignal(dbus.WithMatchInterface(dbusIface), dbus.WithMatchMember(dbusOwnerChange),
		dbus.WithMatchArg(0, BusName)); err != nil {
		return fmt.Errorf("firewalld: subscribe to %s: %w", dbusOwnerChange, err)
	}
	w.signals = make(chan *dbus.Signal, 16)
	w.conn.Signal(w.signals)
	go func() {
		for {
			var s *dbus.Signal
			ok := true
			select {
			case <-w.done:
				return
			case s, ok = <-w.signals:
			}
			if !ok {
				return // the connection was closed
			}
			if s == nil || !relevant(s) {
				continue
			}
			w.log.Info("firewalld changed under us", "signal", s.Name)
			select {
			case w.changed <- struct{}{}:
			default: // one pending notification is enough
			}
		}
	}()
	return nil
}

// relevant tells whether s means that firewalld dropped runtime rules.
func relevant(s *dbus.Signal) bool {
	switch s.Name {
	case ifaceMain + "." + signalReloaded:
		return true
	case dbusIface + "." + dbusOwnerChange:
		// Args: name, old owner, new owner; a new owner means firewalld
		// (re)started with none of our runtime rules.
		if len(s.Body) == 3 {
			name, _ := s.Body[0].(string)
			owner, _ := s.Body[2].(string)
			return name == BusName && owner != ""
		}
	}
	return false
}

// Changed implements firewall.Watcher: it fires after firewalld reloaded
// or started, when runtime rules may be gone.
func (w *Watch) Changed() <-chan struct{} { return w.changed }

// Close ends the signal goroutine and closes the connection if NewWatch
// opened it.
func (w *Watch) Close() error {
	var err error
	w.closeOnce.Do(func() {
		close(w.done)
		if w.signals != nil {
			w.conn.RemoveSignal(w.signals)
		}
		if w.ownConn {
			err = w.conn.Close()
		}
	})
	return err
}
