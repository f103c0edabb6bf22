"""Prints, for each journal entry with WARDEN_TEST=<argv[1]>, the line and
time fail2ban's systemd backend makes of it, as JSON lines
{"cursor": ..., "line": ..., "time": ...}. Used by journal_diff_test.go;
it calls fail2ban's own method through a minimal stand-in for the filter."""
import json
import sys

from systemd import journal
from fail2ban.server.filtersystemd import FilterSystemd


class Stub:
    jailName = "warden-test"

    def getLogEncoding(self):
        return "UTF-8"

    def getJrnEntTime(self, entry):
        return FilterSystemd.getJrnEntTime(self, entry)


def main():
    reader = journal.Reader()
    reader.add_match("WARDEN_TEST=" + sys.argv[1])
    stub = Stub()
    for entry in reader:
        (_, _, line), tm = FilterSystemd.formatJournalEntry(stub, entry)
        print(json.dumps({"cursor": entry["__CURSOR"], "line": line, "time": tm}))


main()
