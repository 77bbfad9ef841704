"""corosync-ha rides out what xhad rides out, and a frozen host never comes back unfenced (T = 10 s).

Three sandboxed hosts, the victim holding the master lock, watchers
asking every host for its liveset (and the survivors for the master lock)
in a loop; every result is stamped with CLOCK_MONOTONIC, as the recording
fence action stamps a fence.  Assertions are on the order of events:

- a stall of the whole host (SIGSTOP of every process of its namespaces)
  for 0.5 T, or of its corosync or its monitor alone for 0.7 T: no fence,
  no survivor ever sees the victim not live or gets the master lock;
- the whole host frozen past its deadline (1.1 T): it fences once it runs
  again, not before; no survivor drops it or takes the master lock before
  that fence, and the victim prints no Online liveset once its deadline
  has passed;
- the statefile's I/O stalled on every host for 2 T (a FUSE-served
  statefile whose server is SIGSTOPped: every read, write and fsync blocks
  in the kernel, as on a stalled storage path): every host says
  statefile_lost, nobody fences, every liveset keeps every host live.
"""

import signal
import threading
import time

import pytest

from helpers import corosync_pool, corosync_trials, fuse_statefile
from helpers.corosync_pool import CorosyncPool, wait_for
from sm_clusterstack.corostack import statefile, timing

# alone: what each test asserts is how the stack's own clock compares stalls with its deadlines (0.5 to 0.7 T
# against T, 1.1 T against T); a loaded machine stalls every process of a host on top of the test's stall
pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.pool3(started=True), pytest.mark.alone, pytest.mark.slow(30)]


class Seen(object):
    """A thread asking one host for its liveset (and, if ``propose``, the master lock) until stopped."""

    def __init__(self, host, propose=False):
        self.host, self.propose = host, propose
        self.found = []  # (asked at, returned at, liveset or None, proposed TRUE?)
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stopping:
            asked = time.monotonic()
            seen = self.host.liveset()
            proposed = self.propose and self.host.run("ha_propose_master", timeout=60).stdout == "TRUE\n"
            self.found.append((asked, time.monotonic(), seen, proposed))
            time.sleep(0.05)

    def stop(self):
        self.stopping = True
        self.thread.join()
        return self.found


def live(seen, host):
    return seen is not None and seen.status == "Online" and host.host_id in seen.live_hosts()


def watch(pool, victim):
    """Watchers on every host: the survivors also ask for the master lock."""
    return {h: Seen(h, propose=h is not victim) for h in pool.hosts}


def frozen(victim, what):
    """The pids to stop for ``what``: every process of the host, or one of its stack's processes."""
    return victim.box.pids() if what == "host" else [victim.pid(what)]


@pytest.mark.parametrize("what,fraction", [("host", 0.5), ("corosync", 0.7), ("monitor", 0.7)])
def test_a_stall_shorter_than_the_timeout_fences_drops_and_fails_over_nothing(pool3, what, fraction):
    victim = corosync_trials.master(pool3)
    watchers = watch(pool3, victim)
    try:
        time.sleep(1.0)
        began = time.monotonic()
        pids = victim.freeze(signal.SIGSTOP, frozen(victim, what))
        time.sleep(fraction * pool3.t)
        victim.freeze(signal.SIGCONT, pids)
        time.sleep(max(0.5 * pool3.t, began + 1.5 * pool3.t - time.monotonic()))  # a failure would show by now
    finally:
        found = {h: w.stop() for h, w in watchers.items()}
    assert [h.fences() for h in pool3.hosts] == [[], [], []]
    for host in pool3.hosts:
        if host is not victim:
            answers = [(seen, proposed) for _a, _r, seen, proposed in found[host]]
            assert answers and all(live(seen, victim) and not proposed for seen, proposed in answers), host.index
            assert "left the liveset" not in host.log()
    last = wait_for(lambda: victim.liveset(), pool3.t)
    assert last.status == "Online" and sorted(last.live_hosts()) == sorted(h.host_id for h in pool3.hosts)
    assert corosync_trials.master(pool3) is victim


def test_a_host_frozen_past_its_deadline_fences_when_it_runs_again_before_anyone_drops_it(pool3):
    times = timing.Timing(pool3.t)
    victim = corosync_trials.master(pool3)
    watchers = watch(pool3, victim)
    try:
        time.sleep(1.0)
        pids = victim.freeze(signal.SIGSTOP)
        frozen_at = time.monotonic()
        time.sleep(1.1 * pool3.t)
        resumed_at = time.monotonic()
        victim.freeze(signal.SIGCONT, pids)
        # how soon after its resumption is the machine's scheduling, not the claim: the claim is the order
        fenced_at = wait_for(lambda: victim.fences() and victim.fences()[0][0], 3 * pool3.t)
        survivors = [w for h, w in watchers.items() if h is not victim]
        wait_for(lambda: all(any(not live(s, victim) for _a, r, s, _p in w.found if r > fenced_at)
                             for w in survivors), 2 * pool3.t)
    finally:
        found = {h: w.stop() for h, w in watchers.items()}
    assert fenced_at > resumed_at and "past its deadline" in victim.fences()[0][1]
    for host in pool3.hosts:
        if host is not victim:
            before = [(s, p) for _a, returned, s, p in found[host] if returned < fenced_at]
            assert before and all(live(s, victim) and not p for s, p in before), host.index
    late = [s for asked, _r, s, _p in found[victim] if asked > frozen_at + times.deadline and s is not None]
    assert late == []  # once past its deadline, the frozen host vouches for nothing


@pytest.fixture
def fuse_pool3(tmp_path):
    reason = fuse_statefile.skip_reason()
    if reason:
        pytest.skip(reason)
    served = fuse_statefile.FuseStatefile(tmp_path, statefile.SIZE)
    pool = None
    try:
        pool = CorosyncPool(tmp_path, 3, statefile_path=served.path)
        assert all(r.ok for r in pool.start_all())
        pool.served = served
        yield pool
    finally:
        served.resume()
        if pool is not None:
            pool.teardown()
        served.close()


def statefile_lost(seen):
    """True while a host says statefile_lost (or does not answer: the query itself is checked below)."""
    return seen is None or seen.warnings["statefile_lost"]


def test_statefile_io_stalled_on_every_host_for_2_t_is_statefile_lost_and_fences_nobody(fuse_pool3):
    pool = fuse_pool3
    watchers = {h: Seen(h) for h in pool.hosts}
    try:
        time.sleep(1.0)
        stalled_at = time.monotonic()
        pool.served.stall()
        time.sleep(2 * pool.t)
        resumed_at = time.monotonic()
        pool.served.resume()
        wait_for(lambda: all(not statefile_lost(h.liveset()) for h in pool.hosts), 3 * pool.t)
    finally:
        pool.served.resume()
        found = {h: w.stop() for h, w in watchers.items()}
    assert [h.fences() for h in pool.hosts] == [[], [], []]
    everyone = sorted(h.host_id for h in pool.hosts)
    for host in pool.hosts:
        answers = [s for _a, _r, s, _p in found[host]]
        assert answers and all(s is not None and s.status == "Online" and sorted(s.live_hosts()) == everyone
                               for s in answers), host.index
        during = [s for asked, returned, s, _p in found[host]
                  if stalled_at + pool.t / 2 < asked and returned < resumed_at]
        assert during and all(s.warnings["statefile_lost"] for s in during), host.index
    assert corosync_trials.master(pool) is not None  # the master lock works again
