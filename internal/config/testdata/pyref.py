# Reference answers from fail2ban's own Python code for the Go tests: reads
# a JSON list of requests on stdin, prints a JSON list of answers.
#   {"kind": "ini", "src": "..."}  -> {"sections": {name: {opt: value}}} or {"error": class}
#   {"kind": "time", "v": "..."}   -> {"seconds": n} or {"error": class}
import json
import sys

from fail2ban.client.configparserinc import SafeConfigParserWithIncludes
from fail2ban.server.mytime import MyTime


def ini(src):
    p = SafeConfigParserWithIncludes()
    try:
        p.read_string(src)
    except Exception as e:
        return {"error": type(e).__name__}
    out = {}
    names = ["DEFAULT"] + p.sections()
    for s in names:
        opts = {}
        keys = p.defaults().keys() if s == "DEFAULT" else p.options(s)
        for k in keys:
            try:
                opts[k] = p.get(s, k)
            except Exception as e:
                opts[k] = "ERROR:" + type(e).__name__
        out[s] = opts
    return {"sections": out}


def seconds(v):
    try:
        return {"seconds": float(MyTime.str2seconds(v))}
    except Exception as e:
        return {"error": type(e).__name__}


answers = []
for req in json.load(sys.stdin):
    answers.append(ini(req["src"]) if req["kind"] == "ini" else seconds(req["v"]))
json.dump(answers, sys.stdout)
