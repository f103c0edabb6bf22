# Turns `fail2ban-client -d` output (one Python literal per line) into one
# JSON document per line, so the Go tests can read it.
import ast
import json
import sys

for line in sys.stdin:
    line = line.strip()
    if line.startswith("["):
        print(json.dumps(ast.literal_eval(line)))
