// Package conformance is warden's acceptance test: it replays fail2ban's
// annotated sample logs (the "# failJSON:" lines shipped with fail2ban's own
// test suite) through warden's config loader and filter engine, and checks
// every annotated line by the rules fail2ban's sample test applies.
//
// The package holds no production code; the helpers here (sample-log
// reader, options sets, constraint expressions, known-gaps list, the fixed
// test clock and time zone) exist for the test in conformance_test.go.
package conformance
