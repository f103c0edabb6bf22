package ban

// Shell actions are healed by their own check: at each heal round every
// jail with an action that has an actioncheck gets one check job on its
// action queue (so it runs in order with the jail's bans, and never two at
// once). A check that finds the action's firewall objects gone repairs
// them, which moves the action's epoch; the manager then queues a reban of
// each of the jail's bans, which runs only in the actions repaired since
// that ban was applied. fail2ban runs actioncheck only before a ban, so a
// firewall reload there loses the bans until the next one.

// checkActions queues a check job for every jail that has a checkable
// action and no check queued or running; after says the firewall just
// changed under the actions (see pool.check).
func (m *Manager) checkActions(after bool) {
	for name := range m.jails {
		m.pool.check(name, after)
	}
}

// rebanAll queues a reban of every active ban of jail; the pool calls it
// from a worker when a check repaired one of jail's actions.
func (m *Manager) rebanAll(jailName string) {
	m.mu.Lock()
	js := m.jails[jailName]
	jobs := make([]job, 0, m.bans.count(js.idx))
	m.bans.each(js.idx, false, func(e entry) {
		jobs = append(jobs, job{op: opRecheck, prefix: e.prefix, ticket: m.ticket(&e)})
	})
	m.mu.Unlock()
	m.log.Info("rebanning after an action repair", "jail", jailName, "bans", len(jobs))
	m.pool.add(jailName, jobs...)
}
