package config

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// defReader resolves a filter.d or action.d file the way fail2ban does: a
// [Definition] section, an [Init] section of parameters, parameters passed
// by the jail (name[k=v]) taking precedence over [Init], and <tag>
// substitution over the lot.
type defReader struct {
	st         *store
	base       string   // "filter.d/sshd"
	configOpts []string // options the server is given, in order
	initOpts   *omap    // jail arguments, then [Init] values and known/ copies
	opts       *omap    // [Definition] values
	pOpts      *omap    // jail options + initOpts, the interpolation vars
	pVars      vars     // pOpts by lower-case name
	cache      map[string]*string
}

func newDefReader(st *store, base string, configOpts []string, args *omap) *defReader {
	if args == nil {
		args = newOmap()
	}
	return &defReader{st: st, base: base, configOpts: configOpts, initOpts: args}
}

func (o *omap) vars() vars {
	if o == nil {
		return nil
	}
	v := make(vars, len(o.keys))
	for _, k := range o.keys {
		v[strings.ToLower(k)] = o.m[k]
	}
	return v
}

// getOptions reads [Definition] and [Init] given the jail's options. With
// all, every [Definition] option is read, not only configOpts.
func (d *defReader) getOptions(jailOpts *omap, all bool) error {
	p := jailOpts
	if p == nil {
		p = newOmap()
	}
	if d.initOpts.Len() > 0 {
		p = p.merged(d.initOpts)
	}
	vs := p.vars()
	d.opts = newOmap()
	for _, name := range d.configOpts {
		if p.Has(name) {
			continue
		}
		v, _, err := d.st.get("Definition", name, vs)
		if err != nil {
			if isMissing(err) {
				continue
			}
			return err
		}
		d.opts.Set(name, v)
	}
	// Conditional variants of the options (actionban?family=inet6, fail2ban
	// 1.1) are read along with them.
	for _, k := range d.st.section("Definition").Keys() {
		m := condKeyRE.FindStringSubmatch(k)
		if m == nil || !d.isConfigOpt(m[1]) || p.Has(k) || d.opts.Has(k) {
			continue
		}
		v, _, err := d.st.get("Definition", k, vs)
		if err != nil {
			return err
		}
		d.opts.Set(k, v)
	}
	if init := d.st.section("Init"); init != nil {
		for _, k := range init.Keys() {
			if !strings.HasPrefix(k, "known/") {
				v, _, err := d.st.get("Init", k, nil)
				if err != nil {
					return err
				}
				d.initOpts.Set("known/"+k, v)
			}
			if !d.initOpts.Has(k) {
				v, _, err := d.st.get("Init", k, nil)
				if err != nil {
					return err
				}
				d.initOpts.Set(k, v)
			}
		}
	}
	if def := d.st.section("Definition"); all && def != nil {
		for _, k := range def.Keys() {
			if d.opts.Has(k) {
				continue
			}
			v, _, err := d.st.get("Definition", k, nil)
			if err != nil {
				return err
			}
			d.opts.Set(k, v)
		}
	}
	d.pOpts = p
	d.pVars = vs
	d.cache = map[string]*string{}
	return nil
}

// combOption looks a tag up in [Definition] (known/x and section/x forms
// too) with the jail's options as overrides.
func (d *defReader) combOption(name string) (string, bool, error) {
	if v, ok := d.cache[name]; ok {
		if v == nil {
			return "", false, nil
		}
		return *v, true, nil
	}
	v, err := d.st.getEx("Definition", name, d.pVars)
	if err != nil {
		if !isMissing(err) {
			return "", false, err
		}
		d.cache[name] = nil
		return "", false, nil
	}
	d.cache[name] = &v
	return v, true, nil
}

// combined merges [Definition] and [Init] values and substitutes tags. A
// conditional option (name?family=inet6) keeps <name> from being replaced,
// since which value applies is only known at run time.
func (d *defReader) combined(ignore ...string) (*omap, error) {
	all := d.opts.merged(d.initOpts)
	if all.Len() == 0 {
		return all, nil
	}
	ign := map[string]bool{}
	for _, n := range ignore {
		ign[n] = true
	}
	for _, k := range all.Keys() {
		// A parameter with conditional variants is left for run time;
		// conditional commands are resolved like the plain ones.
		if m := condKeyRE.FindStringSubmatch(k); m != nil && !d.isConfigOpt(m[1]) {
			ign[m[1]] = true
		}
	}
	out, err := substituteTags(all, ign, "", d.combOption)
	if err != nil {
		var te *tagError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %w", d.posOf(te.tag), err)
		}
		return nil, err
	}
	return out, nil
}

func (d *defReader) isConfigOpt(name string) bool {
	for _, o := range d.configOpts {
		if o == name {
			return true
		}
	}
	return false
}

// posOf tells where option name of the definition was written.
func (d *defReader) posOf(name string) Pos {
	for _, sec := range []string{"Definition", "Init"} {
		if v, ok := d.st.raw(sec, name); ok && v.Pos.File != "" {
			return v.Pos
		}
	}
	return Pos{File: d.firstFile()}
}

// firstFile names the file the definition lives in: base.conf when it
// exists, else the first file read for it.
func (d *defReader) firstFile() string {
	for _, f := range d.st.files {
		if strings.TrimSuffix(f, path.Ext(f)) == d.base {
			return f
		}
	}
	if len(d.st.files) > 0 {
		return d.st.files[0]
	}
	return d.base
}
