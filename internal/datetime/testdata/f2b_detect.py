"""Reference runner for the differential test: feeds lines to fail2ban's
own DateDetector and prints one JSON result per line.

stdin: {"cases": [{"pattern": str|null, "tz": str|null, "now": float,
                   "lines": [str, ...]}, ...]}
stdout: {"results": [[{"ok", "start", "end", "time", "name"}, ...], ...]}
Spans are UTF-8 byte offsets; time is null when no valid date was read.
"""
import json
import sys

from fail2ban.server.datedetector import DateDetector
from fail2ban.server.mytime import MyTime


def byte_offset(s, i):
    return len(s[:i].encode("utf-8", "surrogateescape"))


def run(case):
    MyTime.setTime(case["now"])
    dd = DateDetector()
    if case.get("tz"):
        dd.default_tz = case["tz"]
    if case.get("pattern"):
        for p in [p.strip() for p in case["pattern"].split("\n")]:
            if p:
                dd.appendTemplate(p)
    else:
        dd.addDefaultTemplate()
    # Templates are cached process-wide and count their hits there; reset
    # them so that every case sees a fresh fail2ban.
    for t in dd.templates:
        t.template.hits = 0
    out = []
    if case.get("list"):
        # The template list itself: name, final regex, flags, weight.
        return [{"name": t.name, "regex": getattr(t, "regex", ""), "flags": t.flags,
                 "weight": t.template.weight} for t in dd.templates]
    for line in case["lines"]:
        res = {"ok": False, "start": 0, "end": 0, "time": None, "name": ""}
        try:
            m, tmpl = dd.matchTime(line)
        except Exception as e:  # fail2ban itself would fail on this line
            res["error"] = repr(e)
            out.append(res)
            continue
        if m:
            res["ok"] = True
            res["start"] = byte_offset(line, m.start(1))
            res["end"] = byte_offset(line, m.end(1))
            res["name"] = tmpl.name
            if m.start(1) != m.end(1):
                try:
                    t = dd.getTime(line, (m, tmpl))
                    if t is not None:
                        res["time"] = t[0]
                except Exception as e:
                    res["error"] = repr(e)
        out.append(res)
    return out


def main():
    req = json.load(sys.stdin)
    json.dump({"results": [run(c) for c in req["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
