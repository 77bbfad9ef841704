"""Pauses and stalls on one host, with a fake clock: the monitor, the guard and the statefile I/O.

T = 10 s: a stall up to 0.8 T (8 s) changes nothing; a monitor that finds
it was unresponsive past its deadline (0.9 T) fences before anything
else; the guard fires on a silent monitor only past 0.9 T, or past
0.25 T when corosync no longer shows the accepted partition; a statefile
whose I/O never returns is statefile_lost, never a fence.
"""

import pytest

from corostack_fakes import H, Rig
from sm_clusterstack.corostack import daemon, fencing, guard, hostslot, slotio, statefile
from sm_clusterstack.corostack.log import Log

EVERYONE = {h: ("online", H[:3]) for h in H[1:3]}


@pytest.fixture
def fenced(monkeypatch):
    calls = []
    monkeypatch.setattr(fencing, "fence", lambda action, esc, n, reason, *rest, **kw: calls.append(reason) or True)
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    return calls


def online(rig):
    assert rig.poll(H[:3], {h: ("joining", H[:3]) for h in H[1:3]}) == "online"
    rig.poll(others=EVERYONE)


def my_slot(rig):
    with statefile.opened(rig.conf.statefile) as fd:
        return hostslot.read_all(fd, rig.conf)[rig.monitor.me]


def test_a_host_paused_0_8_t_carries_on_as_if_nothing_happened(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    assert rig.poll(others=EVERYONE, dt=8.0 + rig.timing.poll) == "online"
    assert [rig.poll(others=EVERYONE) for _ in range(4)] == ["online"] * 4
    assert fenced == [] and rig.monitor.committed == set(H[:3]) and rig.pipe.sent[-1] == guard.PET


def test_a_host_paused_past_its_deadline_fences_before_it_pets_publishes_or_asks_anything(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    pets, answers = rig.pipe.sent.count(guard.PET), list(rig.observer.answers)
    assert rig.poll(others=EVERYONE, dt=9.5) == "fenced"
    assert len(fenced) == 1 and "unresponsive for 9.5 s, past its deadline" in fenced[0]
    assert rig.pipe.sent.count(guard.PET) == pets and rig.pipe.sent[-1] == guard.FENCED
    assert rig.observer.answers == answers  # corosync was not even asked
    assert daemon.read_json(rig.paths.view)["state"] == "fenced"
    assert my_slot(rig).state == "fenced"


def test_a_pause_inside_the_corosync_query_past_the_deadline_fences_too(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    rig.observer.stalls.append(9.5)
    assert rig.poll(others=EVERYONE) == "fenced" and "past its deadline" in fenced[0]


def test_a_monitor_paused_inside_its_corosync_query_does_not_blame_corosync(tmp_path, fenced):
    """The issue's 'only the monitor paused 0.3 T': the query timed out because the monitor slept."""
    rig = Rig(tmp_path)
    online(rig)
    rig.observer.stalls.append(3.0)
    assert rig.poll(None, EVERYONE) == "online"  # no answer: the query's timeout ran out while paused
    assert rig.poll(H[:3], EVERYONE) == "online" and fenced == []


def test_corosync_silence_counts_only_while_the_monitor_was_awake(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    states = [rig.poll(None if i == 0 else "same", EVERYONE) for i in range(20)]  # 5 s silent
    rig.observer.stalls.append(5.0)  # the monitor itself stalls 5 s: not corosync's silence
    states += [rig.poll(others=EVERYONE) for _ in range(30)]  # 7.5 s more, awake
    assert states == ["online"] * 50 and fenced == []
    states = [rig.poll(others=EVERYONE) for _ in range(8)]  # past 9 s awake and silent
    assert states[-1] == "fenced" and "corosync has not answered for 9" in fenced[0]


class StalledIO(object):
    """Statefile I/O whose round in progress began at ``began`` and never returns."""

    def __init__(self, last, began):
        self.last, self.began = last, began

    def submit(self, slot):
        pass

    def latest(self):
        return self.last

    def busy_since(self):
        return self.began

    def flush(self, timeout):
        return False


def test_a_statefile_that_never_returns_is_statefile_lost_never_a_fence(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    rig.observer.io = StalledIO(rig.observer.io.latest(), rig.clock.now)
    states = [rig.poll(H[:3]) for _ in range(200)]  # 50 s = 5 T
    assert states == ["online"] * 200 and fenced == [] and rig.monitor.committed == set(H[:3])
    found = daemon.read_json(rig.paths.view)
    assert found["warnings"]["statefile_lost"] and not found["statefile_access"]
    assert found["latency"]["statefile"][0] >= 49000  # the round in progress, still growing


def test_with_the_statefile_stalled_a_lost_host_is_dropped_after_its_fence_deadline(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    rig.observer.io = StalledIO(rig.observer.io.latest(), rig.clock.now)
    rig.poll(H[:2])
    lost_at = rig.clock.now
    while H[2] in rig.monitor.committed:
        assert rig.poll() == "online" and rig.clock.now - lost_at < 10
    assert rig.clock.now - lost_at >= rig.timing.drop_after and fenced == []


def test_the_thread_does_the_rounds_and_a_blocked_round_shows_as_busy(tmp_path):
    rig = Rig(tmp_path)
    io = slotio.SlotIO(rig.conf)
    slot = hostslot.Slot(rig.conf.generation_uuid, H[0], 7, "online", H[:3])
    io.submit(slot)
    assert io.flush(10) and io.busy_since() is None
    found = io.latest()
    assert found.access and found.slots[H[0]] == slot and found.pool.pool_state == "active"
    io.conf = type(rig.conf)(rig.conf.generation_uuid, rig.conf.hosts, H[0], "/proc/self/fd/0/none")
    io.submit(slot)
    assert io.flush(10) and not io.latest().access and "statefile" in io.latest().error


def test_with_deadline_gives_up_waiting_for_a_call_that_blocks():
    import threading
    gate = threading.Event()
    assert slotio.with_deadline(lambda: None, 5.0) == ""
    assert slotio.with_deadline(gate.wait, 0.2) == "no answer within 0.2 s"
    assert "ZeroDivisionError" in slotio.with_deadline(lambda: 1 / 0, 5.0)
    gate.set()


class GuardRig(object):
    """A guard on a fake clock over a monitor's rig; ``partition`` is what its own corosync query answers."""

    def __init__(self, tmp_path):
        self.rig = Rig(tmp_path)
        online(self.rig)
        self.partition = set(H[:3])
        self.asked = 0
        self.guard = guard.Guard(self.rig.paths, self.rig.conf, self.rig.monitor.settings, self.rig.timing,
                                 Log(str(tmp_path / "guard.log"), "guard"), self.rig.clock, self.membership)
        self.guard.armed = True

    def membership(self):
        self.asked += 1
        return self.partition

    def after(self, seconds, step=0.25):
        """Turn the guard every ``step`` for ``seconds`` with no pet; the first reason to fire, or None."""
        for _ in range(int(round(seconds / step))):
            self.rig.clock.now += step
            why = self.guard.turn()
            if why is not None:
                return why
        return None


def test_the_guard_rides_out_a_monitor_stalled_0_8_t_while_corosync_shows_its_partition(tmp_path):
    g = GuardRig(tmp_path)
    assert g.after(2.25) is None and g.asked == 0  # before guard_check (2.5 s) it asks nothing
    assert g.after(5.75) is None and g.asked > 0


def test_the_guard_fires_a_monitor_silent_for_0_9_t_whatever_corosync_says(tmp_path):
    g = GuardRig(tmp_path)
    assert "no life for 9.0 s" in g.after(9.0)


def test_the_guard_fires_early_when_the_host_was_cut_while_its_monitor_stalled(tmp_path):
    g = GuardRig(tmp_path)
    g.partition = {H[0]}  # corosync's new membership: this host alone
    assert "no longer shows the partition" in g.after(3.0) and g.asked == 1


def test_the_guard_accepts_a_new_partition_holding_a_majority(tmp_path):
    g = GuardRig(tmp_path)
    g.partition = set(H[:2])  # a host was lost, this one is in the majority
    assert g.after(5.0) is None


def test_a_paused_guard_counts_the_monitors_silence_from_its_own_resumption(tmp_path):
    g = GuardRig(tmp_path)
    g.partition = None  # corosync is paused with it
    g.rig.clock.now += 8.0  # the whole host was paused
    assert g.guard.turn() is None and g.after(2.25) is None  # the monitor gets its own time to speak
    assert g.after(0.5) is not None
