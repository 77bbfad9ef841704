"""The fault table of issue 18, row by row, on a shim-served sandboxed pool of either stack.

Each ``Row`` is a fault on one host (the master or a slave) or on every
host, for a time in multiples of T, and what xapi's meaning of T expects:
``nothing`` (no fence, no drop, no master change) or ``fence`` (the host
fences itself, and nobody drops it or takes the master over before).
``trial`` runs one row on a ``ha_pools.HAPool`` (xhad or corosync-ha, the
same pool for both) while an observer polls, stamping each observation
with CLOCK_MONOTONIC: which hosts fenced (their log or fence record),
each survivor's liveset (is the victim live, who is master) and the pool's
master.  Times are those of the first poll that saw a thing, so they are
late by at most one round of polls (a round asks every survivor: seconds
on a loaded machine), but a corosync-ha fence's, which is the recording
fence action's own stamp.  A drop or master change counts as early when
an answer that returned before the fence showed it.  Used by
bench/failure_detection.
"""

import copy
import os
import signal
import statistics
import threading
import time

from sm_clusterstack.stacks import liveset as liveset_mod

from helpers import ha_pools

PROCESSES = {  # what a row pauses, by stack: the process names (comm) in the host's namespaces
    "daemon": {"xhad": ("xhad",), "corosync-ha": ("corosync",)},
    "monitor": {"corosync-ha": ("smcs-monitor",)},
    "monitor+guard": {"corosync-ha": ("smcs-monitor", "smcs-guard")},
}


LOSS = 0.3  # the loss row's probability of dropping each packet of the host


class Unsupported(Exception):
    """This machine cannot inflict the row's fault (no iptables, say)."""


class Row(object):
    """One line of the table: ``fault`` on ``target`` for ``length`` (x T, or seconds for a flap)."""

    def __init__(self, name, target, fault, length, expect):
        self.name, self.target, self.fault, self.length, self.expect = name, target, fault, length, expect

    def __repr__(self):
        return "Row(%s)" % self.name


ROWS = [
    Row("cut-slave", "slave", "cut", 3.0, "fence"),
    Row("cut-master", "master", "cut", 3.0, "fence"),
    Row("statefile-stall-0.5T", "all", "statefile", 0.5, "nothing"),
    Row("statefile-stall-2T", "all", "statefile", 2.0, "nothing"),
    Row("pause-master-0.8T", "master", "pause-host", 0.8, "nothing"),
    Row("pause-master-1.1T", "master", "pause-host", 1.1, "fence"),  # past its deadline, before the drop time
    Row("pause-master-1.5T", "master", "pause-host", 1.5, "fence"),
    Row("pause-daemon-0.3T", "master", "daemon", 0.3, "nothing"),
    Row("pause-daemon-0.8T", "master", "daemon", 0.8, "nothing"),
    Row("pause-monitor-0.3T", "master", "monitor", 0.3, "nothing"),
    Row("pause-monitor-0.8T", "master", "monitor", 0.8, "nothing"),
    Row("flapping-3s-x10", "master", "flap", 3.0, "nothing"),
    Row("loss-30%-3T", "master", "loss", 3.0, "nothing"),
    Row("hang-monitor+guard-1.5T", "master", "monitor+guard", 1.5, "fence"),
]


def why_not(row, stack):
    """Why ``row`` cannot run on ``stack`` here, or None."""
    if row.fault in PROCESSES and stack not in PROCESSES[row.fault]:
        return "%s has no %s process" % (stack, row.fault)
    if row.fault == "loss" and not any(os.path.exists(os.path.join(d, "iptables")) for d in ("/usr/sbin", "/sbin")):
        return "no iptables (make deps installs it) for -m statistic"
    return None


def pids_named(box, names):
    """The pids of ``box``'s namespaces whose comm is one of ``names``."""
    found = []
    for pid in box.pids():
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() in names:
                    found.append(pid)
        except OSError:
            pass
    return found


def signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


class Observer(object):
    """A thread polling the pool: fences, the survivors' livesets and the pool's master, stamped."""

    def __init__(self, pool, hosts, victim):
        self.pool = copy.copy(pool)  # with a session of its own: a XenAPI session serves one thread
        self.pool.x = pool.server.session().xenapi
        self.hosts, self.victim = hosts, victim
        self.victim_id = pool.x.host.get_uuid(victim)
        self.before = {h: pool.fences(h) for h in hosts}  # fences of earlier trials on the same pool
        self.fenced = {}  # host -> first time seen fenced again
        self.seen = []  # (time, survivor, victim live in its liveset?, master's host id in it or "")
        self.masters = []  # (time, the pool's master)
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stopping:
            for host in self.hosts:
                if host not in self.fenced and self.pool.fences(host) > self.before[host]:
                    # the fence action's own stamp where it has one: this loop may be slow to see it
                    stamped = self.pool.fence_times(host)[self.before[host]:]
                    self.fenced[host] = min([time.monotonic()] + stamped[:1])
            for host in self.hosts:
                if host != self.victim and host not in self.fenced:
                    self.ask(host)
            try:
                self.masters.append((time.monotonic(), self.pool.master()))
            except Exception:  # the shim may be busy failing over: ask again
                pass
            time.sleep(0.05)

    def ask(self, host):
        code, out = self.pool.query(host)
        found = liveset_mod.parse(out.encode()) if code == 0 else None
        if found is not None:
            masters = [h.host_id for h in found.hosts if h.master]
            self.seen.append((time.monotonic(), host, self.victim_id in found.live_hosts(),
                              masters[0] if masters else ""))

    def stop(self):
        self.stopping = True
        self.thread.join()


def _after(times, began, t):
    return (min(times) - began) / t if times else None


class Outcome(object):
    """What one trial of a row showed; times from the fault's start in multiples of T (None: never)."""

    def __init__(self, row, stack, t, began, observer, victim, master):
        self.row, self.stack = row, stack
        fenced = observer.fenced.get(victim)
        drops = [at for at, _h, live, _m in observer.seen if at > began and not live]
        changes = [at for at, m in observer.masters if at > began and m != master]
        if victim == master:
            changes += [at for at, _h, _l, m in observer.seen if at > began and m and m != observer.victim_id]
        self.fenced = None if fenced is None else (fenced - began) / t
        self.dropped, self.master_changed = _after(drops, began, t), _after(changes, began, t)
        unwanted_fence = fenced is not None and row.expect == "nothing"
        self.false_fences = len([h for h in observer.fenced if h != victim]) + int(unwanted_fence)
        self.early = len([at for at in drops + changes if fenced is None or at < fenced])
        self.looks = len([at for at, _h, _l, _m in observer.seen if at > began])  # survivors' answers seen

    def __repr__(self):
        return ("Outcome(%s on %s: fenced %s, dropped %s, master changed %s, false fences %d, early %d, "
                "%d livesets seen)" % (self.row.name, self.stack, _t(self.fenced), _t(self.dropped),
                                       _t(self.master_changed), self.false_fences, self.early, self.looks))


def _t(value):
    return "never" if value is None else "%.2f T" % value


def apply(row, pool, victims, t):
    """Inflict ``row``'s fault for its length, then undo it (the fence rows' faults too)."""
    boxes = [pool.box(h) for h in victims]
    if row.fault == "cut":
        for box in boxes:
            box.set_link(False)
        return lambda: [box.set_link(True) for box in boxes]
    if row.fault == "statefile":
        pool.storage.stall()
        time.sleep(row.length * t)
        pool.storage.resume()
    elif row.fault == "flap":
        for _ in range(10):
            boxes[0].set_link(False)
            time.sleep(row.length)
            boxes[0].set_link(True)
            time.sleep(row.length)
    elif row.fault == "loss":
        lose(boxes[0], LOSS)
        time.sleep(row.length * t)
        lose(boxes[0], LOSS, add=False)
    else:
        names = None if row.fault == "pause-host" else PROCESSES[row.fault][pool.stack]
        pids = boxes[0].pids() if names is None else pids_named(boxes[0], names)
        signal_all(pids, signal.SIGSTOP)
        time.sleep(row.length * t)
        signal_all(pids, signal.SIGCONT)
    return lambda: None


def lose(box, probability, add=True):
    """Drop each packet to or from ``box`` with ``probability`` (iptables ``-m statistic`` in its netns only).

    This kernel has no netem; the rules are the host's network namespace's
    own (the machine's tables are untouched) and go with it.  INPUT and
    OUTPUT: every packet between this host and another crosses one of them
    once, so each is lost with ``probability``.
    """
    env = {"PATH": ha_pools.XAPI_PATH}
    for chain in ("INPUT", "OUTPUT"):
        argv = ["iptables", "-w", "5", "-A" if add else "-D", chain, "-m", "statistic", "--mode", "random",
                "--probability", str(probability), "-j", "DROP"]
        result = box.run(argv, timeout=30, env=env)
        if not result.ok:
            raise Unsupported("iptables -m statistic: %s" % (result.stderr.strip() or result.describe()))


def lost(box):
    """How many packets ``box``'s loss rules dropped so far (their counters)."""
    total = 0
    for chain in ("INPUT", "OUTPUT"):
        result = box.run(["iptables", "-w", "5", "-L", chain, "-v", "-x", "-n"], timeout=30,
                         env={"PATH": ha_pools.XAPI_PATH})
        if not result.ok:
            raise Unsupported("iptables -L: %s" % (result.stderr.strip() or result.describe()))
        total += sum(int(line.split()[0]) for line in result.stdout.splitlines() if "statistic" in line)
    return total


def healthy(pool):
    """True when every host is live for xapi and Online in its own liveset."""
    hosts = pool.x.host.get_all()
    return all(pool.live(h) for h in hosts) and all(pool.query(h)[0] == 0 for h in hosts)


def settled(observer, victim, master):
    """True once the victim fenced, a survivor dropped it, and (if it was the master) another host is."""
    fenced = observer.fenced.get(victim)
    if fenced is None or not any(not live for at, _h, live, _m in observer.seen if at > fenced):
        return False
    return victim != master or any(m != master for at, m in observer.masters if at > fenced)


def trial(pool, row, t=ha_pools.T):
    """One trial of ``row`` on a healthy ``pool``; its Outcome."""
    hosts = pool.x.host.get_all()
    master = pool.master()
    slaves = sorted(h for h in hosts if h != master)
    victims = hosts if row.target == "all" else [master if row.target == "master" else slaves[0]]
    victim = victims[0] if row.target != "all" else master
    observer = Observer(pool, hosts, victim)
    try:
        time.sleep(1.0)
        began = time.monotonic()
        undo = apply(row, pool, victims, t)
        if row.expect == "fence":  # until the survivors dropped it: xhad takes about 5 T (its failure timeout)
            deadline = time.monotonic() + max(4 * t, ha_pools.failure_timeout(pool.stack) + 2 * t)
            while time.monotonic() < deadline and not settled(observer, victim, master):
                time.sleep(0.2)
        else:
            time.sleep(max(0.0, began + 1.5 * t - time.monotonic()) + 0.5 * t)
        undo()
    finally:
        observer.stop()
    return Outcome(row, pool.stack, t, began, observer, victim, master)


def summary(outcomes):
    """One line per row: counts and median times."""
    def med(values):
        values = [v for v in values if v is not None]
        return "%.2f T" % statistics.median(values) if values else "-"
    first = outcomes[0]
    return ("  %-24s %-11s %d trials, expect %-7s: fenced %s (false fences %d), dropped %s, master changed %s; "
            "drops or master changes before the victim fenced: %d" % (
                first.row.name, first.stack, len(outcomes), first.row.expect, med([o.fenced for o in outcomes]),
                sum(o.false_fences for o in outcomes), med([o.dropped for o in outcomes]),
                med([o.master_changed for o in outcomes]), sum(o.early for o in outcomes)))
