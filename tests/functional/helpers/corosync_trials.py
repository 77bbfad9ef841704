"""Fault trials on a sandboxed corosync-ha pool: fault, fence, what the survivors saw, and recovery.

A trial makes the victim the master, starts watchers on every survivor
(``ha_query_liveset`` and ``ha_propose_master`` in a loop, each result
stamped with CLOCK_MONOTONIC when it returned), applies the fault, and
waits for the victim's recording fence action.  A violation is a
survivor's answer that returned *before* the victim fenced and already
shows it not live, or a survivor proposing itself master.  Shared by the
functional tests (a few trials) and bench/failure_detection (many).
"""

import os
import signal
import threading
import time

from helpers.corosync_pool import ok, wait_for

FAULTS = ("cut", "sigstop-corosync", "kill-monitor")


class Watch(object):
    """A thread asking one survivor for its liveset and the master lock until stopped."""

    def __init__(self, host, victim):
        self.host, self.victim = host, victim
        self.seen = []  # (returned at, victim live?, proposed TRUE?)
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stopping:
            seen = self.host.liveset()
            live = seen is not None and self.victim.host_id in seen.live_hosts()
            proposed = self.host.run("ha_propose_master", timeout=30).stdout == "TRUE\n"
            self.seen.append((time.monotonic(), live, proposed))

    def stop(self):
        self.stopping = True
        self.thread.join()


def master(pool):
    """The host holding the master lock (the first to ask takes it when none does)."""
    def holder():
        return next((h for h in pool.hosts if h.run("ha_propose_master").stdout == "TRUE\n"), None)
    return wait_for(holder, 2 * pool.t)


def make_master(pool, host):
    """Give ``host`` the master lock (it asks until no live master holds it)."""
    wait_for(lambda: host.run("ha_propose_master").stdout == "TRUE\n", 4 * pool.t)


def apply(fault, victim):
    """Inflict ``fault`` on ``victim``."""
    if fault == "cut":
        victim.box.set_link(False)
    elif fault == "sigstop-corosync":
        victim.signal("corosync", signal.SIGSTOP)
    elif fault == "kill-monitor":
        victim.signal("monitor", signal.SIGKILL)
    else:
        raise ValueError(fault)


def recover(pool, fault, victim):
    """Heal the victim and start it again; it joins the survivors' liveset."""
    if fault == "cut":
        victim.box.set_link(True)
    pid = victim.pid("corosync")
    if pid and os.path.exists("/proc/%d" % pid):
        os.kill(pid, signal.SIGCONT)
    ok(victim.run("ha_stop_daemon"))
    ok(victim.run("ha_start_daemon"))


class Trial(object):
    """The figures of one trial, in multiples of HeartbeatTimeout where they are times."""

    def __init__(self, fault, t, fenced_after, dropped_after, proposed_after, violations):
        self.fault, self.t = fault, t
        self.fenced_after, self.dropped_after, self.proposed_after = fenced_after, dropped_after, proposed_after
        self.violations = violations

    def __repr__(self):
        return "Trial(%s: fenced %.2f T, dropped %s T, proposed %s T, %d violations)" % (
            self.fault, self.fenced_after / self.t, _t(self.dropped_after, self.t), _t(self.proposed_after, self.t),
            len(self.violations))


def _t(value, t):
    return "never" if value is None else "%.2f" % (value / t)


def trial(pool, fault, victim):
    """One fault on the master ``victim``; a Trial.  Leaves the pool whole again."""
    survivors = [h for h in pool.hosts if h is not victim]
    make_master(pool, victim)
    fences_before = len(victim.fences())
    watches = [Watch(h, victim) for h in survivors]
    time.sleep(1.0)
    began = time.monotonic()
    apply(fault, victim)
    try:
        fenced_at = wait_for(lambda: victim.fences()[fences_before][0] if len(victim.fences()) > fences_before
                             else None, 3 * pool.t)
        wait_for(lambda: all(any(not live and at > fenced_at for at, live, _p in w.seen) for w in watches)
                 and any(p for w in watches for _at, _live, p in w.seen), 3 * pool.t)
    finally:
        for watch in watches:
            watch.stop()
    seen = [s for w in watches for s in w.seen]
    violations = [s for s in seen if s[0] < fenced_at and (not s[1] or s[2])]
    dropped = min((at for at, live, _p in seen if not live and at > began), default=None)
    proposed = min((at for at, _live, p in seen if p and at > began), default=None)
    recover(pool, fault, victim)
    return Trial(fault, pool.t, fenced_at - began, dropped and dropped - began, proposed and proposed - began,
                 violations)
