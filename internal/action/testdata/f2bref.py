# Reference for warden's action tests: runs fail2ban's own CommandAction
# (configured by fail2ban's own reader from a config tree) through a list of
# operations with command execution replaced by a recorder, and prints the
# commands it would have run as JSON.
#
# stdin: {"dir": tree, "jail": name, "now": float, "bantime": int,
#         "ops": [{"op": "start"|"ban"|"unban"|..., "ticket": {...}}],
#         "fails": {script: how many times it fails}}
# A failed operation adds [op, "ERROR"].
# stdout: {"actions": {name: [[op, script, arg0, ...], ...]}, "error": ""}
import json
import sys

from fail2ban.client.configurator import Configurator
from fail2ban.server import action as f2baction
from fail2ban.server.actions import Actions
from fail2ban.server.ipdns import IPAddr
from fail2ban.server.mytime import MyTime
from fail2ban.server.ticket import BanTicket

req = json.load(sys.stdin)
MyTime.setTime(float(req["now"]))


class StubActions:
    banEpoch = 0

    def __init__(self, jail):
        self.jail = jail

    def _getActionInfo(self, ticket):
        if not ticket:
            ticket = BanTicket("", MyTime.time())
        return Actions.ActionInfo(ticket, self.jail)

    def getBanTime(self):
        return req["bantime"]


class StubJail:
    database = None

    def __init__(self, name):
        self.name = name
        self.actions = StubActions(self)

    def __str__(self):
        return self.name


recorded = []
current = [""]


fails = dict(req.get("fails") or {})


def record(realCmd, timeout=60, **kwargs):
    cmd = realCmd if isinstance(realCmd, list) else [realCmd]
    recorded.append([current[0]] + [str(c) for c in cmd])
    n = fails.get(cmd[0], 0)
    if n:
        fails[cmd[0]] = n - 1
        return False
    return True


f2baction.Utils.executeCmd = staticmethod(record)

conf = Configurator()
conf.setBaseDir(req["dir"])
conf.readEarly()
conf.getEarlyOptions()
conf.readAll()
conf.getOptions(req["jail"])
conf.convertToProtocol(allow_no_files=True)
stream = conf.getConfigStream()

jail = StubJail(req["jail"])
actions = {}
order = []
for cmd in stream:
    if cmd[:1] == ["set"] and len(cmd) >= 4 and cmd[2] == "addaction":
        a = f2baction.CommandAction(jail, cmd[3])
        actions[cmd[3]] = a
        order.append(cmd[3])
    elif cmd[:1] == ["multi-set"] and cmd[2] == "action":
        for opt, val in cmd[4]:
            setattr(actions[cmd[3]], opt, val)
    elif cmd[:1] == ["set"] and len(cmd) == 6 and cmd[2] == "action":
        setattr(actions[cmd[3]], cmd[4], cmd[5])


def ticket(t):
    bt = BanTicket(t.get("id") or t["ip"], float(t["time"]), t.get("matches") or [])
    data = dict(t.get("data") or {})
    if t.get("id"):
        data["ip"] = IPAddr(t["ip"])
    for k, v in data.items():
        bt.setData(k, v)
    bt.setAttempt(t.get("failures", 0))
    if t.get("bantime") is not None:
        bt.setBanTime(t["bantime"])
    bt.setBanCount(t.get("bancount", 0))
    bt.restored = t.get("restored", False)
    return Actions.ActionInfo(bt, jail)


out = {}
for name in order:
    a = actions[name]
    recorded.clear()
    fails = dict(req.get("fails") or {})
    for op in req["ops"]:
        current[0] = op["op"]
        if op["op"] == "prolong" and not a._prolongable:
            continue  # fail2ban's Actions asks first, as warden's ban manager will
        try:
            if "ticket" in op:
                getattr(a, op["op"])(ticket(op["ticket"]))
            elif op["op"] == "check":
                if not a.consistencyCheck():
                    raise RuntimeError("check failed")
            else:
                getattr(a, op["op"])()
        except RuntimeError:
            recorded.append([op["op"], "ERROR"])
    out[name] = list(recorded)
json.dump({"actions": out}, sys.stdout)
