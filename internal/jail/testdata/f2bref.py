# Reference runner for the jail's differential tests: feeds a JSON list of jobs
# from stdin to fail2ban's own code and prints, per job, one answer per event.
#   mode "manager": FailManager.cleanup(now), then addFailure (with the
#                   event's count), then toBan once maxretry is reached.
#   mode "filter":  a Filter with the failregex "^fail <HOST>$" fed through
#                   processLineAndAdd(line, date) with MyTime fixed to now,
#                   so fail2ban's own time rules and cleanup cadence apply;
#                   an event with a count is Filter.addAttempt instead.
#   mode "ignore":  Filter.addIgnoreIP entries, inIgnoreIPList answers.
#   mode "bantime": the bantime.* options set on a Jail; evaluates the
#                   increment lambda for each count.
import json
import sys

from fail2ban.server.failmanager import FailManager
from fail2ban.server.ticket import FailTicket
from fail2ban.server.mytime import MyTime


def run_manager(job):
    fm = FailManager()
    fm.setMaxRetry(job["maxretry"])
    fm.setMaxTime(job["findtime"])
    out = []
    for fid, t, now, count in job["events"]:
        fm.cleanup(now)
        n = fm.addFailure(FailTicket(fid, t), count or 1)
        ban = None
        if n >= job["maxretry"]:
            tk = fm.toBan(fid)
            ban = [tk.getRetry(), tk.getAttempt(), tk.getTime()]
        out.append(ban)
    return out


def run_filter(job):
    from fail2ban.server.filter import Filter
    from fail2ban.tests.dummyjail import DummyJail
    jail = DummyJail()
    flt = Filter(jail)
    flt.ignoreSelf = False
    flt.setMaxRetry(job["maxretry"])
    flt.setFindTime(job["findtime"])
    flt.addFailRegex(r"^fail <HOST>$")
    flt.inOperation = job["inop"]
    out = []
    for fid, t, now, count in job["events"]:
        MyTime.setTime(now)
        if count:
            # an operator's "set <jail> attempt <ip> <matches>": at now
            flt.addAttempt(fid, *(["m"] * count))
        else:
            flt.processLineAndAdd(("", "T", "fail " + fid), t)
        ban = None
        if jail.queue:
            tk = jail.queue.pop()
            ban = [tk.getRetry(), tk.getAttempt(), tk.getTime()]
        out.append(ban)
    return out


def run_bantime(job):
    from fail2ban.server.jail import Jail
    jail = Jail("ref", backend="polling")
    for k, v in job["opts"].items():
        jail.setBanTimeExtra(k, v)
    ev = jail.getBanTimeExtra("evformula")
    out = []
    for bt, count in job["cases"]:
        class Ban:
            Time = bt
            Count = count
        out.append(float(ev(Ban)))
    return out


def run_eval(job):
    # Plain Python evaluation of formula texts, the way fail2ban's lambda
    # sees them (names ban, banFactor and the math module).
    import math
    out = []
    for src, bt, count, factor in job["cases"]:
        class Ban:
            Time = bt
            Count = count
        try:
            v = eval(src, {"math": math}, {"ban": Ban, "banFactor": factor})
            out.append([float(v), isinstance(v, float)])
        except Exception:
            out.append(None)
    return out


def run_ignore(job):
    # Filter.addIgnoreIP for each entry, then inIgnoreIPList per address.
    from fail2ban.server.filter import Filter
    from fail2ban.tests.dummyjail import DummyJail
    flt = Filter(DummyJail())
    flt.ignoreSelf = False
    for e in job["entries"]:
        flt.addIgnoreIP(e)
    return [bool(flt.inIgnoreIPList(a, log_ignore=False)) for a in job["addrs"]]


def main():
    # A list of jobs runs in one process (python start-up dominates).
    jobs = json.load(sys.stdin)
    runs = {"manager": run_manager, "filter": run_filter, "bantime": run_bantime, "eval": run_eval, "ignore": run_ignore}
    json.dump([runs[job["mode"]](job) for job in jobs], sys.stdout)


main()
