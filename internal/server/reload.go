package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/firewall"
)

// A reload, like a client's start or stop of one jail, is prepared in full
// by the caller (configuration read, validated, every jail compiled) while
// the old jails keep running; only a change that is complete goes to Run's
// loop, which lifts the bans it names, stops the running generation and
// starts the new one. An invalid configuration changes nothing.
//
// What survives a change: a jail whose configuration is unchanged keeps its
// compiled filter, its actions and its failure tracker (counts included);
// a changed jail is compiled afresh. Bans are kept in the database and put
// back by the new generation's ban manager, so every jail that stays keeps
// its bans without a gap in the nftables sets (the backend's Setup keeps the
// elements of remaining jails). Shell actions see actionstop and actionstart
// and have their bans re-applied, as after a restart. The bans of jails that
// are removed or stopped, and with --unban those of the reloaded jails, are
// lifted before the switch.

// change is a new generation for Run's loop. done (buffered) is answered
// once the new generation runs, or with the error that stopped it.
type change struct {
	cfg     *config.Config
	jails   []*jailRun
	unban   []string // jails whose bans are lifted before the switch
	stopped map[string]bool
	done    chan error
}

// genView is a consistent view of the running generation.
type genView struct {
	cfg    *config.Config
	jails  []*jailRun
	byName map[string]*jailRun
	mgr    *ban.Manager
	fws    []inUse
}

func (s *Server) view() genView {
	s.genMu.RLock()
	defer s.genMu.RUnlock()
	return genView{cfg: s.cfg, jails: s.jails, byName: s.byName, mgr: s.mgr, fws: s.fws}
}

func index(js []*jailRun) map[string]*jailRun {
	m := make(map[string]*jailRun, len(js))
	for _, j := range js {
		m[j.name] = j
	}
	return m
}

// buildAll compiles every jail of cfg; the errors of all jails are joined.
func (s *Server) buildAll(cfg *config.Config) ([]*jailRun, error) {
	loadSvc := s.servicesLoader()
	var (
		out  []*jailRun
		errs []error
	)
	hooks, err := s.opts.webhooksFor(cfg) // webhook.go
	if err != nil {
		return nil, err
	}
	for _, j := range cfg.Jails {
		jr, err := buildJail(j, &s.opts, buildEnv{svc: loadSvc, auto: &s.auto})
		if err == nil {
			err = hooks.attach(jr, &s.opts)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, jr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.opts.webhooks.use(hooks)
	return out, nil
}

// servicesLoader returns a function that reads the services file when
// first called and returns the same result afterwards.
func (s *Server) servicesLoader() func() (*firewall.Services, error) {
	var svc *firewall.Services
	return func() (*firewall.Services, error) {
		if svc == nil {
			var err error
			if svc, err = firewall.LoadServices(s.opts.ServicesPath); err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
		}
		return svc, nil
	}
}

// Reload reads the configuration again (Options.Load) and, if it is valid,
// switches to it as fail2ban's reload does: opts.Jail limits the reload to
// that jail, Restart rebuilds jails even when unchanged, Unban lifts the
// bans of the reloaded jails. On error the running configuration stays.
func (s *Server) Reload(ctx context.Context, opts control.ReloadOptions) error {
	if s.opts.Load == nil {
		return notSupported("reload")
	}
	err := s.reload(ctx, opts)
	if err != nil {
		s.log.Error("reload failed; the running configuration stays", "err", err)
	}
	return err
}

func (s *Server) reload(ctx context.Context, opts control.ReloadOptions) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := s.opts.Load()
	if err != nil {
		return fmt.Errorf("%w: reload: %w", control.ErrBadArgs, err)
	}
	if _, err := readSettings(&s.opts, cfg.Server); err != nil {
		return fmt.Errorf("%w: reload: %w", control.ErrBadArgs, err)
	}
	built, err := s.buildAll(cfg)
	if err != nil {
		return fmt.Errorf("%w: reload: %w", control.ErrBadArgs, err)
	}
	cur := s.view()
	newBy := index(built)
	if opts.Jail != "" {
		_, inOld := cur.byName[opts.Jail]
		nj, inNew := newBy[opts.Jail]
		if !inOld && !inNew && !configured(cur.cfg, opts.Jail) {
			if opts.IfExists {
				return nil
			}
			return fmt.Errorf("%w: %s", control.ErrUnknownJail, opts.Jail)
		}
		// Only that jail changes: the others stay as they run.
		var jails []*jailRun
		for _, j := range cur.jails {
			if j.name != opts.Jail {
				jails = append(jails, j)
			}
		}
		if inNew {
			jails = append(jails, nj)
		}
		built = jails
		cfg = mergeJail(cur.cfg, cfg, opts.Jail)
	}
	stopped := map[string]bool{}
	for n := range s.stoppedJails {
		if opts.Jail != "" && n != opts.Jail {
			stopped[n] = true
		}
	}
	c := &change{cfg: cfg, stopped: stopped, done: make(chan error, 1)}
	inScope := func(name string) bool { return opts.Jail == "" || opts.Jail == name }
	kept := map[string]bool{}
	for _, nj := range built {
		if stopped[nj.name] {
			continue
		}
		if old, ok := cur.byName[nj.name]; ok && inScope(nj.name) && !opts.Restart && reflect.DeepEqual(old.cfg, nj.cfg) && !webhookChanged(old, nj) {
			nj = old // unchanged: keeps its tracker and counts
		} else if ok && !inScope(nj.name) {
			nj = old
		}
		c.jails = append(c.jails, nj)
		kept[nj.name] = true
	}
	for _, j := range cur.jails {
		if !kept[j.name] || (opts.Unban && inScope(j.name)) {
			c.unban = append(c.unban, j.name)
		}
	}
	if err := s.apply(ctx, c); err != nil {
		return err
	}
	s.log.Info("reload done", "jails", len(c.jails), "unbanned_jails", len(c.unban), "restart", opts.Restart, "jail", opts.Jail)
	return nil
}

// configured tells whether cfg has a jail named name.
func configured(cfg *config.Config, name string) bool {
	return slices.ContainsFunc(cfg.Jails, func(j *config.Jail) bool { return j.Name == name })
}

// mergeJail is cur with jail name taken from next (or dropped when next
// lacks it).
func mergeJail(cur, next *config.Config, name string) *config.Config {
	out := *cur
	out.Jails = nil
	for _, j := range cur.Jails {
		if j.Name != name {
			out.Jails = append(out.Jails, j)
		}
	}
	for _, j := range next.Jails {
		if j.Name == name {
			out.Jails = append(out.Jails, j)
		}
	}
	return &out
}

// StartJail starts a configured jail that a client stopped.
func (s *Server) StartJail(ctx context.Context, name string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.view()
	if _, running := cur.byName[name]; running {
		return fmt.Errorf("%w: jail %s is already running", control.ErrBadArgs, name)
	}
	if !s.stoppedJails[name] {
		return fmt.Errorf("%w: %s", control.ErrUnknownJail, name)
	}
	built, err := s.buildAll(cur.cfg)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	stopped := map[string]bool{}
	for n := range s.stoppedJails {
		if n != name {
			stopped[n] = true
		}
	}
	c := &change{cfg: cur.cfg, stopped: stopped, done: make(chan error, 1)}
	for _, nj := range built {
		if old, ok := cur.byName[nj.name]; ok {
			nj = old
		} else if stopped[nj.name] {
			continue
		}
		c.jails = append(c.jails, nj)
	}
	return s.apply(ctx, c)
}

// StopJail stops one jail and lifts its bans; it stays stopped until
// started again or a reload of every jail.
func (s *Server) StopJail(ctx context.Context, name string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.view()
	if _, ok := cur.byName[name]; !ok {
		return fmt.Errorf("%w: %s", control.ErrUnknownJail, name)
	}
	stopped := map[string]bool{name: true}
	for n := range s.stoppedJails {
		stopped[n] = true
	}
	c := &change{cfg: cur.cfg, stopped: stopped, unban: []string{name}, done: make(chan error, 1)}
	for _, j := range cur.jails {
		if j.name != name {
			c.jails = append(c.jails, j)
		}
	}
	return s.apply(ctx, c)
}

// apply hands c to Run's loop and waits until the new generation runs.
// reloadMu is held.
func (s *Server) apply(ctx context.Context, c *change) error {
	select {
	case s.changes <- c:
	case <-s.quit:
		return ban.ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	s.stoppedJails = c.stopped
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
