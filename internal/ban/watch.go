package ban

import (
	"context"

	"warden/internal/firewall"
)

// watch merges the Changed channels of the backends that are
// firewall.Watchers into one (nil when none is). Its goroutines end with
// ctx; the merged channel is never closed.
func (m *Manager) watch(ctx context.Context) <-chan struct{} {
	var out chan struct{}
	for _, b := range m.cfg.Backends {
		w, ok := b.(firewall.Watcher)
		if !ok {
			continue
		}
		if out == nil {
			out = make(chan struct{}, 1)
		}
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
