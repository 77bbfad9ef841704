"""corosync-ha fences before anyone takes over: faults on sandboxed hosts (T = HeartbeatTimeout = 10 s).

Three hosts, the master cut from the network, its corosync SIGSTOPped, or
its monitor killed: it fences within 1.2 T, and no survivor's liveset
drops it, nor does a survivor get the master lock, before it fenced
(corosync_trials).  Two trials per fault here; bench/failure_detection
runs ten of each.  Splits with no majority keep exactly one side.  A
third of the master's packets lost for T is absorbed by corosync's
retransmits: nothing happens.  The fence action is the recorder of
corosync_pool: nothing reboots.
"""

import signal
import time

import pytest

from helpers import corosync_pool, corosync_trials, fault_rows
from helpers.corosync_pool import CorosyncPool, ok, wait_for
from helpers.lateness import Lateness

pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.pool3(started=True), pytest.mark.slow(15)]
TRIALS = 2


@pytest.mark.slow(40)
@pytest.mark.parametrize("fault", corosync_trials.FAULTS)
def test_the_failed_master_fences_within_1_2_t_before_any_survivor_drops_it_or_takes_over(pool3, fault):
    for _number in range(TRIALS):
        victim = corosync_trials.master(pool3)
        with Lateness() as late:
            found = corosync_trials.trial(pool3, fault, victim)
        print(found, late)
        assert found.violations == [], found
        # the stack's bound, and the machine's lateness along the chain: the monitor's poll, its decision,
        # the fence action's start
        assert found.fenced_after <= 1.2 * pool3.t + late.allowance(wakes=2, spawns=1), (found, late)
        assert found.dropped_after is not None and found.proposed_after is not None, found
    survivors_fenced = [h for h in pool3.hosts for _ in h.fences()]
    assert len(survivors_fenced) == TRIALS  # only the victims fenced, once each


def test_a_third_of_the_masters_packets_lost_for_a_timeout_fences_drops_and_fails_over_nothing(pool3):
    """Issue 18: packet loss that corosync's retransmits absorb is no failure (token 0.9 T, ten retransmits;
    knet declares a link dead after 0.95 T of lost pings: ``corostack/timing.py``).  The loss is
    ``iptables -m statistic`` in the master's network namespace only (this kernel has no netem), each
    packet to or from it dropped with probability 0.3.  Order of events only: no host fences, no survivor's
    answer drops it or gives a survivor the master lock, until 1.5 T after the loss began (a lost host
    is fenced by 1.2 T and dropped by 1.5 T)."""
    why = fault_rows.why_not(fault_rows.Row("loss", "master", "loss", 1.0, "nothing"), "corosync-ha")
    if why:
        pytest.skip(why)
    victim = corosync_trials.master(pool3)
    watches = [corosync_trials.Watch(h, victim) for h in pool3.hosts if h is not victim]
    try:
        time.sleep(1.0)
        began = time.monotonic()
        fault_rows.lose(victim.box, fault_rows.LOSS)
        time.sleep(pool3.t)
        dropped = fault_rows.lost(victim.box)
        fault_rows.lose(victim.box, fault_rows.LOSS, add=False)
        time.sleep(max(0.0, began + 1.5 * pool3.t - time.monotonic()))
    finally:
        for watch in watches:
            watch.stop()
    assert dropped > 0  # the loss was real
    assert [h.fences() for h in pool3.hosts] == [[], [], []]
    for watch in watches:
        assert watch.seen and all(live and not proposed for _at, live, proposed in watch.seen), watch.seen
    assert fault_rows.lost(victim.box) == 0  # the rules are gone (and go with the namespace anyway)


def alive_and_fenced(pool, hosts, timeout):
    """Wait until every host in ``hosts`` either fenced or is Online alone with the survivors; (alive, fenced)."""
    def settled():
        fenced = [h for h in hosts if h.fences()]
        kept = set(x.host_id for x in hosts if x not in fenced)
        alive = []
        for host in (h for h in hosts if h not in fenced):
            seen = host.liveset()  # None while it is fencing (14): not settled yet
            if seen is not None and seen.status == "Online" and set(seen.live_hosts()) <= kept:
                alive.append(host)
        return (alive, fenced) if len(alive) + len(fenced) == len(hosts) and fenced else None
    return wait_for(settled, timeout)


@pytest.mark.parametrize("lost", [0, 1])
def test_a_two_host_pool_survives_the_crash_of_either_host(tmp_path, lost):
    pool = CorosyncPool(tmp_path, 2)
    try:
        assert all(r.ok for r in pool.start_all())
        dead, alive = pool.hosts[lost], pool.hosts[1 - lost]
        corosync_trials.make_master(pool, dead)
        for name in ("guard", "monitor", "corosync"):  # the host stops at once: nothing of it runs
            dead.signal(name, signal.SIGKILL)
        wait_for(lambda: alive.liveset().live_hosts() == [alive.host_id], 2 * pool.t)
        wait_for(lambda: alive.run("ha_propose_master").stdout == "TRUE\n", pool.t)
        assert alive.liveset().status == "Online" and alive.fences() == []
        quorum = alive.box.run(["corosync-quorumtool", "-s"], 10, env={"PATH": corosync_pool.XAPI_PATH})
        assert "Quorate:          Yes" in quorum.stdout  # expected votes lowered: OCFS2's DLM keeps going
    finally:
        pool.teardown()


@pytest.mark.parametrize("cut", [0, 1])
def test_a_two_host_pool_cut_in_two_keeps_the_host_whose_link_is_up(tmp_path, cut):
    pool = CorosyncPool(tmp_path, 2)
    try:
        assert all(r.ok for r in pool.start_all())
        corosync_trials.make_master(pool, pool.hosts[cut])  # the tie-breaks after links favour it
        pool.hosts[cut].box.set_link(False)
        alive, fenced = alive_and_fenced(pool, pool.hosts, 3 * pool.t)
        assert (alive, fenced) == ([pool.hosts[1 - cut]], [pool.hosts[cut]])
    finally:
        pool.teardown()


@pytest.mark.parametrize("groups", [[[0], [1], [2]], [[0, 1], [2, 3]]], ids=["1|1|1", "2|2"])
def test_a_split_without_a_majority_keeps_exactly_the_masters_side(tmp_path, groups):
    pool = CorosyncPool(tmp_path, sum(len(g) for g in groups))
    try:
        assert all(r.ok for r in pool.start_all())
        master_side = groups[-1]
        corosync_trials.make_master(pool, pool.hosts[master_side[0]])
        time.sleep(1)
        pool.split(*groups)
        alive, fenced = alive_and_fenced(pool, pool.hosts, 3 * pool.t)
        assert sorted(h.index for h in alive) == master_side
        side = sorted(pool.hosts[i].host_id for i in master_side)
        for host in alive:
            wait_for(lambda: sorted(host.liveset().live_hosts()) == side, pool.t)
        ok(pool.hosts[master_side[0]].run("ha_query_liveset"))
    finally:
        pool.teardown()


def test_a_failed_fence_is_retried_then_escalated_and_the_host_is_kept_live_until_then(pool3):
    """Issue 18: a host whose fence fails is never taken over.  It ran alone once: the victim's monitor ran its
    chain (three attempts and the escalation, each a process) inside a poll, its slot stood still meanwhile,
    and under load a survivor dropped it by the time rule before the escalation, a host still running (a
    defect of the stack, not of the test).  Now the chain runs beside the monitor's polls (``FenceRun``),
    its slot keeps saying ``fencing``, and no survivor drops a host whose fresh slot says so
    (``arbitration.may_drop``); the guard leaves the chain to the monitor (three attempts, not six)."""
    victim = corosync_trials.master(pool3)
    victim.write_settings(fence_exit=1)  # fence-action fails; fence-escalation (the last resort) works
    ok(victim.run("ha_disarm_fencing"))
    ok(victim.run("ha_stop_daemon"))
    ok(victim.run("ha_start_daemon"))  # settings are read when the daemon starts
    survivor = [h for h in pool3.hosts if h is not victim][0]
    wait_for(lambda: victim.host_id in survivor.liveset().live_hosts(), pool3.t)  # it has seen the victim back
    watch = corosync_trials.Watch(survivor, victim)
    try:
        victim.box.set_link(False)
        escalated_at = wait_for(lambda: victim.fences(escalated=True) and victim.fences(escalated=True)[0][0],
                                2 * pool3.t)
    finally:
        watch.stop()
    attempts = victim.fences()
    assert len(attempts) == 3 and all(at < escalated_at for at, _reason in attempts)
    assert "escalated" in victim.fences(escalated=True)[0][1]
    assert [s for s in watch.seen if s[0] < escalated_at and (not s[1] or s[2])] == []
    assert "fence action failed 3 times: escalating" in victim.log()
