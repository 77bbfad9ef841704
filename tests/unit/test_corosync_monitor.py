"""The monitor's state machine, poll by poll: a fake clock and scripted corosync, a real statefile.

T = HeartbeatTimeout = 10 s (timing.Timing(10)): corosync_stale 9 s,
arbitration 1.5 s, deadline 9 s, step_late 1.5 s, drop_after 3.75 s.
"""

import threading

import pytest

from corostack_fakes import H, Rig
from sm_clusterstack.corostack import common, daemon, fencing, guard, hostslot, main, monitor, slotio, statefile
from sm_clusterstack.stacks import mtc


@pytest.fixture
def fenced(monkeypatch):
    calls = []

    def fence(action, escalation, attempts, reason, timeout, grace, log, **hooks):
        calls.append(reason)
        return True
    monkeypatch.setattr(fencing, "fence", fence)
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    return calls


def online(rig, hosts=H[:3]):
    others = [h for h in hosts if h != rig.monitor.me]
    assert rig.poll(list(hosts), {h: ("joining", list(hosts)) for h in others}) == "online"
    rig.poll(others={h: ("online", list(hosts)) for h in others})
    return others


def test_joining_in_pool_state_init_waits_for_every_host_then_arms_and_activates(tmp_path, fenced):
    rig = Rig(tmp_path, pool_state="init")
    assert rig.poll(H[:2]) == "joining" and rig.pipe.sent.count(guard.ARM) == 0
    assert rig.poll(H[:3]) == "online"
    assert daemon.fencing_mode(rig.paths) == "armed" and guard.ARM in rig.pipe.sent
    assert statefile.read(rig.conf.statefile).pool_state == "active"
    assert rig.monitor.committed == set(H[:3])


def test_a_minority_fences_once_the_majority_reported_and_marks_its_slot(tmp_path, fenced):
    rig = Rig(tmp_path, me=2)
    online(rig)
    assert rig.poll(H[2:3], {h: ("online", H[:3]) for h in H[:2]}) == "online"  # the others have not seen it yet
    assert rig.poll(others={h: ("online", H[:2]) for h in H[:2]}) == "fencing"
    assert fenced == []  # the fence runs on the next poll, after its slot said "fencing"
    assert rig.poll() == "fenced"
    assert len(fenced) == 1 and "lost the survival rules" in fenced[0]
    assert rig.pipe.sent[-1] == guard.FENCED and daemon.fencing_mode(rig.paths) == "fenced"


def test_a_lost_host_stays_live_until_its_slot_says_fenced(tmp_path, fenced):
    rig = Rig(tmp_path, master=H[2])
    online(rig)
    rig.poll(H[:2], {H[1]: ("online", H[:2]), H[2]: ("online", H[2:3])})
    for _ in range(8):
        rig.poll(others={H[1]: ("online", H[:2]), H[2]: ("fencing", H[2:3])})
        assert H[2] in rig.monitor.committed and rig.monitor.state == "online"
    rig.poll(others={H[1]: ("online", H[:2]), H[2]: ("fenced", H[2:3])})
    assert rig.monitor.committed == set(H[:2])


def test_a_fencing_monitor_keeps_polling_its_slot_moving_and_says_so_to_its_guard(tmp_path, monkeypatch):
    """Issue 18: the fence chain runs in a thread; a slow or failing one never freezes the monitor's slot, so
    the survivors never take a host over while it fences (``arbitration.may_drop``)."""
    release, calls = threading.Event(), []

    def slow_fence(*args, **kwargs):
        calls.append(args[3])
        return release.wait(10)
    monkeypatch.setattr(fencing, "fence", slow_fence)
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    rig = Rig(tmp_path, me=2)
    online(rig)
    assert rig.poll(H[2:3], {h: ("online", H[:2]) for h in H[:2]}) == "fencing"
    seqs = []
    for _ in range(3):
        assert rig.poll() == "fencing"
        with statefile.opened(rig.conf.statefile) as fd:
            rig.monitor.observer.io.flush(5)
            slot = hostslot.read_all(fd, rig.conf)[H[2]]
        seqs.append(slot.seq)
        assert slot.state == "fencing"
    assert len(calls) == 1 and seqs == sorted(set(seqs)) and rig.pipe.sent[-1] == guard.FENCING
    release.set()
    rig.monitor.fence_run.thread.join(5)
    assert rig.poll() == "fenced" and rig.pipe.sent[-1] == guard.FENCED


def test_a_lost_host_whose_slot_stopped_is_dropped_only_after_its_fence_deadline(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    rig.poll(H[:2], {H[1]: ("online", H[:2])})
    lost_at = rig.clock.now
    dropped_at = None
    for _ in range(40):
        rig.poll(others={H[1]: ("online", H[:2])})
        if H[2] not in rig.monitor.committed:
            dropped_at = rig.clock.now
            break
    assert dropped_at is not None and rig.timing.drop_after <= dropped_at - lost_at < rig.timing.drop_after + 0.5


def test_corosync_silent_past_corosync_stale_fences(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    states = [rig.poll(None if i == 0 else "same", {h: ("online", H[:3]) for h in H[1:3]}) for i in range(38)]
    assert states[:35] == ["online"] * 35 and "fencing" in states  # 9 s of polls 0.25 s apart
    rig.poll()
    assert "corosync has not answered" in fenced[0]


def test_reports_that_never_agree_fence_after_the_arbitration_time(tmp_path, fenced):
    rig = Rig(tmp_path, n=4)
    online(rig, H[:4])
    others = {H[1]: ("online", H[:3]), H[2]: ("online", H[2:4]), H[3]: ("online", H[2:4])}  # H1 disagrees
    states = [rig.poll(H[:2] if i == 0 else "same", others) for i in range(8)]
    assert states[:5] == ["online"] * 5 and states[-1] in ("fencing", "fenced")  # 1.25 s of disagreement


def test_a_host_another_still_counts_in_its_partition_neither_fences_nor_drops_it(tmp_path, fenced):
    """A ring re-forming: this host's corosync shows it alone, the other's (the master's) still shows both."""
    rig = Rig(tmp_path, n=2, master=H[1])
    online(rig, H[:2])
    states = [rig.poll(H[:1] if i == 0 else "same", {H[1]: ("online", H[:2])}) for i in range(40)]  # 10 s
    assert states == ["online"] * 40 and rig.monitor.committed == set(H[:2]) and fenced == []
    states = [rig.poll(others={H[1]: ("online", H[1:2])}) for i in range(8)]  # now it lost this host too
    assert states[-1] in ("fencing", "fenced")  # a real split now: the master's side wins


@pytest.mark.parametrize("lost", [0, 1])
def test_a_two_host_pool_survives_the_death_of_either_host(tmp_path, fenced, lost):
    rig = Rig(tmp_path, n=2, me=1 - lost, master=H[lost])
    online(rig, H[:2])
    rig.poll([H[1 - lost]])
    for _ in range(40):
        assert rig.poll() == "online"  # the dead host's slot no longer moves
    assert rig.monitor.committed == {H[1 - lost]} and rig.observer.watcher.votes == [1]
    assert "expected votes set to 1: done" in open(rig.paths.log_file).read()


def test_disarmed_host_that_loses_does_not_fence(tmp_path, fenced):
    rig = Rig(tmp_path, me=2)
    online(rig)
    daemon.set_fencing(rig.paths, "disarmed")
    rig.poll(H[2:3], {h: ("online", H[:2]) for h in H[:2]})
    assert rig.poll() == "lost" and fenced == [] and guard.DISARM in rig.pipe.sent


def _invalidate(rig):
    statefile.update(rig.conf.statefile, lambda s: setattr(s, "pool_state", "invalid") or s)


def test_the_pool_state_invalid_disarms_and_ends_the_monitor_even_in_a_lost_partition(tmp_path, fenced):
    """xha daemon/sm.c check_pool_state: SF_STATE_INVALID -> sm_abort(INVALID_POOL_STATE), no fence.

    xapi_ha.ml disable_internal -> attempt_disable_through_statefile sets it on the master while every
    daemon runs; Host.ha_wait_for_shutdown_via_statefile then waits for each daemon to be gone.
    """
    rig = Rig(tmp_path, me=2)
    online(rig)
    _invalidate(rig)
    assert rig.poll(H[2:3], {h: ("online", H[:2]) for h in H[:2]}) == "disabled"  # would lose if armed
    assert [rig.poll() for _ in range(8)] == ["disabled"] * 8 and fenced == []
    assert rig.monitor.state in monitor.ENDS and daemon.fencing_mode(rig.paths) == "disarmed"
    assert rig.pipe.sent.count(guard.DISARM) == 1 and guard.FENCED not in rig.pipe.sent
    with statefile.opened(rig.conf.statefile) as fd:
        assert hostslot.read_all(fd, rig.conf)[H[2]].state == "left"


def test_a_joining_host_that_sees_the_pool_state_invalid_stops_joining(tmp_path, fenced):
    rig = Rig(tmp_path, pool_state="init")
    assert rig.poll(H[:2]) == "joining"
    _invalidate(rig)
    assert rig.poll(H[:3], {h: ("joining", H[:3]) for h in H[1:3]}) == "disabled"
    assert guard.ARM not in rig.pipe.sent and fenced == []


def test_a_host_already_fencing_finishes_its_fence_when_the_pool_state_turns_invalid(tmp_path, monkeypatch):
    results = [False, True]
    monkeypatch.setattr(fencing, "fence", lambda *a, **kw: results.pop(0))
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    rig = Rig(tmp_path, me=2)
    online(rig)
    rig.poll(H[2:3], {h: ("online", H[:2]) for h in H[:2]})
    assert rig.poll() == "fencing"
    _invalidate(rig)
    assert rig.poll() == "fenced"  # it may already be half-way through: the others count on it


def test_an_armed_host_whose_guard_is_gone_fences(tmp_path, fenced):
    rig = Rig(tmp_path)
    online(rig)
    rig.pipe.alive = False
    rig.poll(others={h: ("online", H[:3]) for h in H[1:3]})
    assert rig.poll() == "fenced" and "fence guard is gone" in fenced[0]


def test_an_excluded_host_with_hosts_not_excluded_and_no_liveset_is_blocked(tmp_path, fenced):
    rig = Rig(tmp_path, excluded=[H[0]])
    assert rig.poll(H[:1]) == "blocked"


def test_an_excluded_host_joining_a_liveset_clears_its_own_mark(tmp_path, fenced):
    rig = Rig(tmp_path, excluded=[H[0]])
    assert rig.poll(H[:3], {h: ("online", H[:3]) for h in H[1:3]}) == "online"
    assert statefile.read(rig.conf.statefile).excluded == []


def test_a_failed_fence_is_retried_until_it_succeeds(tmp_path, monkeypatch):
    results = [False, False, True]
    monkeypatch.setattr(fencing, "fence", lambda *a, **kw: results.pop(0))
    monkeypatch.setattr(daemon, "corosync_pid", lambda paths: None)
    rig = Rig(tmp_path, me=2)
    online(rig)
    rig.poll(H[2:3], {h: ("online", H[:2]) for h in H[:2]})
    pets = rig.pipe.sent.count(guard.PET)
    assert [rig.poll() for _ in range(3)] == ["fencing", "fencing", "fenced"]
    assert rig.pipe.sent.count(guard.PET) == pets  # a host fencing never pets its guard


def test_scripts_refuse_unknown_arguments():
    with pytest.raises(common.Failure) as raised:
        common.parse_args(["-x"])
    assert raised.value.code == mtc.INVALID_PARAMETER
    assert common.parse_args(["init", "-C", "/f"], ("init",), config=True) == ("init", "/f")


def test_main_turns_an_unexpected_error_into_127(monkeypatch, capsys):
    monkeypatch.setitem(main.SCRIPTS, "ha_query_liveset", lambda argv: 1 / 0)
    assert main.main("ha_query_liveset", []) == mtc.INTERNAL_BUG
    assert "ZeroDivisionError" in capsys.readouterr().err


class OnePollLate(slotio.Inline):
    """Statefile rounds as the I/O thread's when each takes most of a poll: a poll sees the round before its own."""

    def __init__(self, conf, clock):
        super(OnePollLate, self).__init__(conf, clock)
        self.previous = None

    def submit(self, slot):
        self.previous = self.last
        super(OnePollLate, self).submit(slot)

    def latest(self):
        return self.previous


def test_a_round_begun_before_the_monitor_cleared_its_exclusion_does_not_bring_the_mark_back(tmp_path, fenced):
    """ha_start_daemon returns once the view shows this host online and no longer excluded (xha daemon/sm.c
    clears the mark before join()); a statefile round that read the record before the monitor's own change
    must not show the mark again on the next poll (seen under load: ``test_set_excluded_while_running...``)."""
    rig = Rig(tmp_path, excluded=(H[0],))
    rig.observer.io = OnePollLate(rig.conf, rig.clock)
    others = {h: ("online", H[:3]) for h in H[1:3]}
    states = [rig.poll(list(H[:3]), others)]
    while states[-1] != "online" and len(states) < 4:
        states.append(rig.poll(others=others))
    assert states[-1] == "online" and H[0] not in rig.monitor.pool.excluded
    for _ in range(3):
        assert rig.poll(others=others) == "online" and H[0] not in rig.monitor.pool.excluded
    assert statefile.read(rig.conf.statefile).excluded == []
