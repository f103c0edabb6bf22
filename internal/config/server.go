package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// server reads fail2ban.conf, fail2ban.d/*.conf and their .local files.
// A tree without them gets fail2ban's defaults.
func (l *loader) server() (Server, error) {
	s := Server{
		LogLevel: "INFO", LogTarget: "/var/log/fail2ban.log", SyslogSocket: "auto", Socket: "/var/run/fail2ban/fail2ban.sock",
		PidFile: "/var/run/fail2ban/fail2ban.pid", AllowIPv6: "auto", DBFile: "/var/lib/fail2ban/fail2ban.sqlite3",
		Options: map[string]string{},
	}
	purge := "1d"
	st, err := l.r.load("fail2ban")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.DBPurgeAge, _ = ParseTime(purge)
			return s, nil
		}
		return s, err
	}
	if def := st.section("Definition"); def != nil {
		for _, k := range append(st.defaults.Keys(), def.Keys()...) {
			v, pos, err := st.get("Definition", k, nil)
			if err != nil {
				return s, err
			}
			s.Options[k] = v
			switch k {
			case "loglevel":
				s.LogLevel = v
			case "logtarget":
				s.LogTarget = v
			case "syslogsocket":
				s.SyslogSocket = v
			case "socket":
				s.Socket = v
			case "pidfile":
				s.PidFile = v
			case "allowipv6":
				s.AllowIPv6 = v
			case "dbfile":
				s.DBFile = v
			case "dbpurgeage":
				purge = v
			case "dbmaxmatches":
				if s.DBMaxMatches, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
					return s, fmt.Errorf("%s: %w: dbmaxmatches = %q is not a whole number", pos, ErrBadValue, v)
				}
			}
		}
	}
	if s.DBPurgeAge, err = ParseTime(purge); err != nil {
		_, pos, _ := st.getPos("Definition", "dbpurgeage")
		return s, fmt.Errorf("%s: dbpurgeage: %w", pos, err)
	}
	if v, pos, err := st.get("Thread", "stacksize", nil); err == nil {
		if s.StackSize, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return s, fmt.Errorf("%s: %w: stacksize = %q is not a whole number", pos, ErrBadValue, v)
		}
	} else if !isMissing(err) {
		return s, err
	}
	for _, name := range st.Sections() {
		switch name {
		case "DEFAULT", "Definition", "Thread", "INCLUDES", "Init":
			continue
		}
		opts := map[string]Setting{}
		for _, k := range st.section(name).Keys() {
			v, pos, err := st.get(name, k, nil)
			if err != nil {
				return s, err
			}
			opts[k] = Setting{Value: v, Pos: pos}
		}
		if s.Sections == nil {
			s.Sections = map[string]map[string]Setting{}
		}
		s.Sections[name] = opts
	}
	return s, nil
}

// LoadFilter resolves a filter the way fail2ban-regex does: spec is a
// filter.d name with optional parameters ("sshd[mode=aggressive]") or a path
// inside fsys ("filter.d/sshd.conf"). The filter is read for a file
// backend (logtype=file).
func LoadFilter(fsys fs.FS, spec string) (*Filter, error) {
	return LoadFilterBackend(fsys, spec, "auto")
}

// LoadFilterBackend is LoadFilter for a jail backend: "systemd" makes the
// filter's logtype "journal".
func LoadFilterBackend(fsys fs.FS, spec, backend string) (*Filter, error) {
	name, args, err := parseSpec(strings.TrimSpace(spec))
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", clip(spec), err)
	}
	base := strings.TrimPrefix(name, "/")
	for _, ext := range []string{".conf", ".local"} {
		base = strings.TrimSuffix(base, ext)
	}
	if !strings.Contains(base, "/") {
		base = path.Join("filter.d", base)
	}
	r := newReader(fsys, "")
	st, err := r.load(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %q (no %s.conf or .local)", ErrMissingFilter, name, base)
		}
		return nil, err
	}
	d := newDefReader(st, base, filterOpts, args)
	applyAutoOptions(d, backend)
	if err := d.getOptions(nil, false); err != nil {
		return nil, err
	}
	return buildFilter(d, path.Base(base), nil)
}
