package ban

import (
	"context"

	"warden/internal/firewall"
)

// watch merges the Changed channels of Config.Watchers and of the backends
// that are firewall.Watchers into one (nil when there are none). Its
// goroutines end with ctx; the merged channel is never closed.
func (m *Manager) watch(ctx context.Context) <-chan struct{} {
	ws := m.cfg.Watchers
	for _, b := range m.cfg.Backends {
		if w, ok := b.(firewall.Watcher); ok {
			ws = append(ws[:len(ws):len(ws)], w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	out := make(chan struct{}, 1)
	for _, w := range ws {
		go func(in <-chan struct{}) {
			for {
				select {
				case <-ctx.Done():
					return
				case <-in:
					select {
					case out <- struct{}{}:
					default: // a heal is already due
					}
				}
			}
		}(w.Changed())
	}
	return out
}
