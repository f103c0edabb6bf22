package datetime

// Line features let the detector skip templates cheaply. Each feature is
// a necessary condition for some templates to match, computed at most
// once per line and only when a template asks for it. Text with bytes
// >= 0x80 is assumed to have every digit/month feature, since \d and
// case folding reach beyond ASCII there.
type feature uint16

const (
	needColonTime feature = 1 << iota // digit ':' digit
	needAt                            // '@'
	needDigits6                       // six digits in a row
	needDigits8                       // eight digits in a row
	needDigits10                      // ten digits in a row
	needMonSpace                      // a month abbreviation (any case) and a space
	needDigitSep                      // digit, '-' or '/', digit
	needYearSep                       // "20", two digits, then '-', '/' or '.'
)

const asciiDependent = needDigits6 | needDigits8 | needDigits10 | needMonSpace | needDigitSep | needYearSep

// lineFeatures computes all features of line in one pass.
func lineFeatures(line string) feature {
	var f feature
	run := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c >= '0' && c <= '9' {
			run++
			switch {
			case run >= 10:
				f |= needDigits6 | needDigits8 | needDigits10
			case run >= 8:
				f |= needDigits6 | needDigits8
			case run >= 6:
				f |= needDigits6
			}
			continue
		}
		switch c {
		case ':':
			if run > 0 && i+1 < len(line) && isDigitByte(line[i+1]) {
				f |= needColonTime
			}
		case '@':
			f |= needAt
		case ' ':
			if i >= 3 && isASCIILetter(line[i-1]) && isAbbr(line[i-3:i], monthAbbrs[:]) {
				f |= needMonSpace
			}
		case '-', '/', '.':
			if c != '.' && run > 0 && i+1 < len(line) && isDigitByte(line[i+1]) {
				f |= needDigitSep
			}
			if run >= 2 && i >= 4 && line[i-4] == '2' && line[i-3] == '0' {
				f |= needYearSep
			}
		default:
			if c >= 0x80 {
				f |= asciiDependent
			}
		}
		run = 0
	}
	return f
}

// defaultNeeds lists what each default pattern (by index) needs.
var defaultNeeds = map[int]feature{
	0:  needColonTime | needYearSep,  // ISO 8601
	1:  needColonTime | needMonSpace, // asctime / syslog
	2:  needColonTime | needMonSpace, // asctime, year before time
	3:  needColonTime | needDigitSep, // d/m/y
	4:  needColonTime,                // Apache
	5:  needColonTime | needDigitSep, // m/d/Y:
	6:  needColonTime | needDigitSep, // m-d-Y
	8:  needColonTime,                // time only
	9:  needColonTime,                // <m/d/y@...>
	10: needColonTime | needDigits6,  // MySQL
	11: needColonTime | needMonSpace, // Tomcat
	12: needColonTime,                // ASSP
	13: needDigits8,                  // compact ISO
	14: needColonTime | needMonSpace, // zone name, asctime
	15: needColonTime | needMonSpace, // zone offset, asctime
}
