package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DirectiveKind tells what a "# name: json" comment line of a sample log is.
type DirectiveKind int

const (
	// NoDirective is an ordinary line.
	NoDirective DirectiveKind = iota
	// FailJSON describes the expected outcome of the next line.
	FailJSON
	// FileOptions holds options merged into every later filterOptions set.
	FileOptions
	// FilterOptions starts a block run with one or more options sets.
	FilterOptions
	// AddFile names another sample log to replay after this one.
	AddFile
)

// directiveRE recognises the annotation comments of fail2ban's sample logs:
// one or more '#', an optional space, the directive name, a colon and the
// JSON payload.
var directiveRE = regexp.MustCompile(`^#+ ?(failJSON|fileOptions|filterOptions|addFILE):(.+)$`)

// ParseDirective classifies one line of a sample log (without its line
// terminator) and returns the raw JSON payload of a directive.
func ParseDirective(line string) (DirectiveKind, string) {
	m := directiveRE.FindStringSubmatch(line)
	if m == nil {
		return NoDirective, ""
	}
	switch m[1] {
	case "failJSON":
		return FailJSON, m[2]
	case "fileOptions":
		return FileOptions, m[2]
	case "filterOptions":
		return FilterOptions, m[2]
	default:
		return AddFile, m[2]
	}
}

// Opts is a JSON object whose key order is kept, because fail2ban names a
// filter instance after the textual form of its options.
type Opts struct {
	Keys []string
	Vals map[string]any
}

// Get returns the value of k and whether it is present.
func (o Opts) Get(k string) (any, bool) {
	v, ok := o.Vals[k]
	return v, ok
}

// String returns the value of k as text ("" when absent or null).
func (o Opts) String(k string) string {
	v, ok := o.Vals[k]
	if !ok || v == nil {
		return ""
	}
	return valueText(v)
}

// Set adds or replaces k, keeping the first position of k.
func (o *Opts) Set(k string, v any) {
	if o.Vals == nil {
		o.Vals = map[string]any{}
	}
	if _, ok := o.Vals[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.Vals[k] = v
}

// Merge returns a copy of o updated with every key of p (dict.update).
func (o Opts) Merge(p Opts) Opts {
	var r Opts
	for _, k := range o.Keys {
		r.Set(k, o.Vals[k])
	}
	for _, k := range p.Keys {
		r.Set(k, p.Vals[k])
	}
	return r
}

// FilterOnly drops the "test.*" keys, which steer the test, not the filter.
func (o Opts) FilterOnly() Opts {
	var r Opts
	for _, k := range o.Keys {
		if !strings.HasPrefix(k, "test.") {
			r.Set(k, o.Vals[k])
		}
	}
	return r
}

// Key is a stable textual form of o in key order, used to tell filter
// instances apart ("" for no options).
func (o Opts) Key() string {
	if len(o.Keys) == 0 {
		return ""
	}
	parts := make([]string, len(o.Keys))
	for i, k := range o.Keys {
		parts[i] = strconv.Quote(k) + ": " + strconv.Quote(valueText(o.Vals[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Spec renders a filter spec with parameters, "name[k=v, k2="v 2"]", the
// form config.LoadFilter and jail files accept.
func (o Opts) Spec(name string) string {
	if len(o.Keys) == 0 {
		return name
	}
	parts := make([]string, len(o.Keys))
	for i, k := range o.Keys {
		v := valueText(o.Vals[k])
		if strings.ContainsAny(v, `,]["' `) || v == "" {
			v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
		}
		parts[i] = k + "=" + v
	}
	return name + "[" + strings.Join(parts, ", ") + "]"
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		return fmt.Sprint(x)
	}
}

// ErrNotObject is returned when an options set is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// DecodeJSON decodes a JSON value keeping object key order: objects become
// Opts, arrays []any, numbers json.Number.
func DecodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o Opts
			o.Vals = map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	default:
		return t, nil
	}
}

// DecodeOptionSets decodes a filterOptions payload: one object or a list of
// objects, each a separate run.
func DecodeOptionSets(s string) ([]Opts, error) {
	v, err := DecodeJSON(s)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case Opts:
		return []Opts{x}, nil
	case []any:
		sets := make([]Opts, 0, len(x))
		for _, e := range x {
			o, ok := e.(Opts)
			if !ok {
				return nil, fmt.Errorf("options set %v: %w", e, ErrNotObject)
			}
			sets = append(sets, o)
		}
		return sets, nil
	}
	return nil, fmt.Errorf("options %v: %w", v, ErrNotObject)
}

// DecodeObject decodes a JSON object (failJSON, fileOptions).
func DecodeObject(s string) (Opts, error) {
	v, err := DecodeJSON(s)
	if err != nil {
		return Opts{}, err
	}
	o, ok := v.(Opts)
	if !ok {
		return Opts{}, fmt.Errorf("%s: %w", s, ErrNotObject)
	}
	return o, nil
}

// SplitLines splits a sample log into lines the way a line reader sees
// them: on '\n', keeping any '\r', with no empty tail after a final newline.
func SplitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	parts := bytes.Split(b, []byte("\n"))
	lines := make([]string, len(parts))
	for i, p := range parts {
		lines[i] = string(p)
	}
	return lines
}

// SortedStrings returns the text of each element of a JSON list, sorted, or
// false if v is not a list.
func SortedStrings(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = valueText(e)
	}
	sort.Strings(out)
	return out, true
}
