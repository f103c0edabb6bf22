package jail

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Forever is the ban time of a permanent ban. Any negative ban time means
// the same.
const Forever time.Duration = -1

// BanTimeConfig holds a jail's bantime and bantime.* options.
type BanTimeConfig struct {
	BanTime   time.Duration // bantime; negative: for ever
	Increment bool          // bantime.increment
	// Factor is bantime.factor (ParseFactor evaluates the option text);
	// zero is taken as fail2ban's default 1.
	Factor float64
	// Formula is bantime.formula; nil means DefaultFormula. It is not
	// used when Multipliers is set.
	Formula *Formula
	// Multipliers is bantime.multipliers (ParseMultipliers).
	Multipliers []int64
	MaxTime     time.Duration // bantime.maxtime; <= 0: no cap
	RndTime     time.Duration // bantime.rndtime; <= 0: no random part
	// OverallJails is bantime.overalljails: the caller looks the
	// history up across all jails instead of this one.
	OverallJails bool
	// Rand returns a number in [0, 1) for bantime.rndtime; nil means no
	// random part even when RndTime is set (tests, replay).
	Rand func() float64
}

// History is what the ban store knows about an address: how many times it
// was banned before (in this jail, or in all with bantime.overalljails),
// and when the last ban started.
type History struct {
	Count int
	Last  time.Time
}

// ParseMultipliers reads bantime.multipliers: integers separated by spaces.
func ParseMultipliers(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Fields(s) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bantime.multipliers %q: %w", ErrFormula, s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// BanTime returns how long to ban an address with the given history.
//
// As in fail2ban: a permanent bantime stays permanent; without
// bantime.increment, or for a first ban (Count 0), it is bantime itself.
// Otherwise it is bantime * factor * multipliers[min(Count, len-1)] when
// multipliers are set, else max(bantime, formula); then capped at
// bantime.maxtime, then rndtime*Rand() added. A formula that fails to
// evaluate leaves bantime unchanged (fail2ban logs and does the same).
func BanTime(cfg *BanTimeConfig, h History) time.Duration {
	base := cfg.BanTime
	if base < 0 {
		return Forever
	}
	if !cfg.Increment || base == 0 || h.Count <= 0 {
		return base
	}
	secs, err := incrementSeconds(cfg, h.Count)
	if err != nil {
		return base
	}
	return secondsToDuration(secs)
}

// incrementSeconds evaluates the increment rule, in float seconds as
// fail2ban does.
func incrementSeconds(cfg *BanTimeConfig, count int) (float64, error) {
	t := cfg.BanTime.Seconds()
	factor := cfg.Factor
	if factor == 0 {
		factor = 1
	}
	var r float64
	if len(cfg.Multipliers) > 0 {
		i := min(count, len(cfg.Multipliers)-1)
		r = t * factor * float64(cfg.Multipliers[i])
	} else {
		f := cfg.Formula
		if f == nil {
			f = defaultFormula
		}
		v, err := f.Eval(Vars{Time: t, Count: count, Factor: factor})
		if err != nil {
			return 0, err
		}
		r = max(t, v)
	}
	if cfg.MaxTime > 0 {
		r = min(r, cfg.MaxTime.Seconds())
	}
	if cfg.RndTime > 0 && cfg.Rand != nil {
		r += cfg.Rand() * cfg.RndTime.Seconds()
	}
	return r, nil
}

// defaultFormula is compiled once; Formula values are immutable.
var defaultFormula = mustFormula(DefaultFormula)

func mustFormula(s string) *Formula {
	f, err := ParseFormula(s)
	if err != nil {
		panic(err)
	}
	return f
}

// secondsToDuration converts float seconds, saturating instead of
// overflowing (a huge formula result is a very long ban, not a negative one).
func secondsToDuration(s float64) time.Duration {
	const maxSecs = float64(math.MaxInt64 / int64(time.Second))
	switch {
	case math.IsNaN(s) || s <= 0:
		return 0
	case s >= maxSecs:
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}

// RetryBoost is fail2ban's observer rule for addresses banned before: a new
// failure from an address with Count previous bans counts as
// 2^Count/2 + 1 failures (at most maxRetry), so known offenders are
// banned sooner. It returns the extra count to add on top of the one the
// failure itself brings (0: none).
func RetryBoost(count, maxRetry int) float64 {
	if count <= 0 {
		return 0
	}
	r := float64(int64(1)<<min(count, 20))/2 + 1
	r = min(r, float64(maxRetry))
	if r <= 1 {
		return 0
	}
	return r - 1
}
