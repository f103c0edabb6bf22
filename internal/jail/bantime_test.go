package jail

import (
	"math"
	"testing"
	"time"
)

// TestBanTimeAgainstFail2ban evaluates the same bantime.* options with
// fail2ban's Jail.setBanTimeExtra lambda and with BanTime.
func TestBanTimeAgainstFail2ban(t *testing.T) {
	type opts = map[string]string
	cases := []struct {
		name string
		opts opts
	}{
		{"default", opts{}},
		{"factor2", opts{"factor": "2"}},
		{"factor-expr", opts{"factor": "3/2"}},
		{"maxtime", opts{"maxtime": "1d"}},
		{"exp", opts{"formula": "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"}},
		{"exp-factor", opts{"factor": "2", "maxtime": "5w", "formula": "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"}},
		{"pow", opts{"formula": "ban.Time * 2**ban.Count"}},
		{"cond", opts{"formula": "ban.Time if ban.Count < 2 else ban.Time * ban.Count * 3 // 2"}},
		{"minmax", opts{"formula": "min(ban.Time * (ban.Count + 1), 3600) + max(ban.Count, 2) % 7"}},
		{"shrink", opts{"formula": "ban.Time / (ban.Count + 1)"}},
		{"mult", opts{"multipliers": "1 2 4 8 16 32 64"}},
		{"mult-factor", opts{"multipliers": "1 5 30 60 300 720 1440 2880", "factor": "2", "maxtime": "2d"}},
	}
	baseTimes := []int{600, 3600, 1, 86400}
	counts := []int{1, 2, 3, 5, 10, 19, 20, 21, 40}
	type job struct {
		Mode  string   `json:"mode"`
		Opts  opts     `json:"opts"`
		Cases [][2]int `json:"cases"`
	}
	var jobs []job
	var pairs [][2]int
	for _, bt := range baseTimes {
		for _, c := range counts {
			pairs = append(pairs, [2]int{bt, c})
		}
	}
	for _, c := range cases {
		o := opts{"increment": "true"}
		for k, v := range c.opts {
			o[k] = v
		}
		jobs = append(jobs, job{"bantime", o, pairs})
	}
	var want [][]float64
	runF2B(t, jobs, &want)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := BanTimeConfig{Increment: true}
			var err error
			if s, ok := c.opts["factor"]; ok {
				if cfg.Factor, err = ParseFactor(s); err != nil {
					t.Fatal(err)
				}
			}
			if s, ok := c.opts["formula"]; ok {
				if cfg.Formula, err = ParseFormula(s); err != nil {
					t.Fatal(err)
				}
			}
			if s, ok := c.opts["multipliers"]; ok {
				if cfg.Multipliers, err = ParseMultipliers(s); err != nil {
					t.Fatal(err)
				}
			}
			switch c.opts["maxtime"] {
			case "1d":
				cfg.MaxTime = 24 * time.Hour
			case "2d":
				cfg.MaxTime = 48 * time.Hour
			case "5w":
				cfg.MaxTime = 5 * 7 * 24 * time.Hour
			}
			for k, p := range pairs {
				cfg.BanTime = time.Duration(p[0]) * time.Second
				got := BanTime(&cfg, History{Count: p[1]})
				// Durations stop at about 292 years; fail2ban's
				// floats do not.
				w := min(want[i][k], float64(math.MaxInt64)/1e9)
				if math.Abs(got.Seconds()-w) > 1e-6*max(1, w) {
					t.Errorf("bantime %ds count %d: got %v (%.6fs), fail2ban %.6fs", p[0], p[1], got, got.Seconds(), w)
				}
			}
		})
	}
}

func TestBanTimeRules(t *testing.T) {
	half := func() float64 { return 0.5 }
	tests := []struct {
		name string
		cfg  BanTimeConfig
		h    History
		want time.Duration
	}{
		{"forever", BanTimeConfig{BanTime: -1, Increment: true}, History{Count: 3}, Forever},
		{"forever-any-negative", BanTimeConfig{BanTime: -5 * time.Second}, History{}, Forever},
		{"no-increment", BanTimeConfig{BanTime: time.Hour}, History{Count: 5}, time.Hour},
		{"first-ban", BanTimeConfig{BanTime: time.Hour, Increment: true}, History{}, time.Hour},
		{"default-formula", BanTimeConfig{BanTime: 10 * time.Minute, Increment: true}, History{Count: 3}, 80 * time.Minute},
		{"default-capped-exponent", BanTimeConfig{BanTime: time.Second, Increment: true}, History{Count: 50}, (1 << 20) * time.Second},
		{"maxtime", BanTimeConfig{BanTime: 10 * time.Minute, Increment: true, MaxTime: time.Hour}, History{Count: 5}, time.Hour},
		{"rndtime", BanTimeConfig{BanTime: 10 * time.Minute, Increment: true, RndTime: 100 * time.Second, Rand: half}, History{Count: 1}, 20*time.Minute + 50*time.Second},
		{"rnd-without-rand", BanTimeConfig{BanTime: 10 * time.Minute, Increment: true, RndTime: 100 * time.Second}, History{Count: 1}, 20 * time.Minute},
		{"multipliers-last-repeats", BanTimeConfig{BanTime: time.Minute, Increment: true, Multipliers: []int64{1, 2, 3}}, History{Count: 9}, 3 * time.Minute},
		{"multipliers-index-is-count", BanTimeConfig{BanTime: time.Minute, Increment: true, Multipliers: []int64{1, 2, 3}}, History{Count: 1}, 2 * time.Minute},
		{"formula-error-keeps-base", BanTimeConfig{BanTime: time.Minute, Increment: true, Formula: mustFormula("ban.Time / (ban.Count - 1)")}, History{Count: 1}, time.Minute},
		{"formula-never-below-base", BanTimeConfig{BanTime: time.Minute, Increment: true, Formula: mustFormula("1")}, History{Count: 4}, time.Minute},
		{"huge-saturates", BanTimeConfig{BanTime: time.Hour, Increment: true, Formula: mustFormula("ban.Time * 10.0**30")}, History{Count: 1}, time.Duration(math.MaxInt64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BanTime(&tc.cfg, tc.h); got != tc.want {
				t.Errorf("BanTime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryBoost(t *testing.T) {
	tests := []struct {
		count, maxRetry int
		want            float64
	}{
		{0, 5, 0}, {1, 5, 1}, {2, 5, 2}, {3, 5, 4}, {4, 5, 4}, {30, 3, 2}, {1, 1, 0},
	}
	for _, tc := range tests {
		if got := RetryBoost(tc.count, tc.maxRetry); got != tc.want {
			t.Errorf("RetryBoost(%d, %d) = %v, want %v", tc.count, tc.maxRetry, got, tc.want)
		}
	}
}
