"""The timing budget of corosync-ha, for every HeartbeatTimeout xapi may pass (timing's docstring argues it).

T is the time a host may be unresponsive before it is failed: stalls up to
0.8 T change nothing, a failed host fences by 1.2 T, survivors drop it
after its fence and by 1.5 T.  Each assertion is one line of the budget's
worst case; a change of one figure that breaks another shows here.
"""

import pytest

from sm_clusterstack.corostack import timing

TIMEOUTS = [10, 11, 15, 30, 60, 120, 600]  # xapi's smallest HA timeout is 10 s


def budget(t):
    return timing.Timing(t), timing.STALL * t


@pytest.mark.parametrize("t", TIMEOUTS)
def test_a_corosync_or_a_host_paused_0_8_t_loses_no_token_and_no_knet_link(t):
    times, stall = budget(t)
    assert times.token_ms / 1000.0 >= stall + 0.1 * t  # the token's way round after the pause
    last_pong = times.knet_ping_interval_ms / 1000.0  # before the pause began, at most
    assert times.knet_ping_timeout_ms / 1000.0 - last_pong >= stall + 0.09 * t
    assert times.knet_ping_timeout_ms >= times.token_ms  # a link is never declared down before the token is lost


@pytest.mark.parametrize("t", TIMEOUTS)
def test_a_monitor_guard_or_corosync_stalled_0_8_t_fences_nothing(t):
    times, stall = budget(t)
    longest_gap = stall + times.step  # a stall begins just after a step began
    assert times.deadline > longest_gap and times.guard > longest_gap and times.view_stale > longest_gap
    assert times.corosync_stale > longest_gap
    assert times.watchdog_seconds > stall + times.poll  # the guard pets the watchdog every poll
    assert times.step_late > 2 * times.tool_timeout  # two corosync queries in one step are no stall


@pytest.mark.parametrize("t", TIMEOUTS)
def test_a_lost_link_is_seen_and_fenced_by_1_2_t_with_or_without_a_majority(t):
    times, _stall = budget(t)
    seen = times.detect + times.poll + times.tool_timeout  # the next query after corosync's change
    assert seen <= timing.FENCE_BY * t  # a cut host in a minority: it fences at once
    assert seen + times.arbitration <= timing.FENCE_BY * t + 1e-9  # no majority anywhere: the statefile decides
    # within the arbitration time every competitor's slot shows its new partition, or has gone stale
    assert times.arbitration >= max(times.slot_stale, times.skew + times.poll) + times.poll
    assert times.consensus_ms >= 100  # corosync refuses a consensus below its join timeout
    link_up = times.knet_pong_count * times.knet_ping_interval_ms
    assert times.consensus_ms >= 2 * link_up  # a starting host's links are up well before a join's consensus ends


@pytest.mark.parametrize("t", TIMEOUTS)
def test_survivors_drop_after_every_way_the_lost_host_fences_and_by_1_5_t(t):
    times, _stall = budget(t)
    drop = times.detect + times.drop_after + times.poll
    assert drop <= timing.DROP_BY * t
    latest_fence_by_guard = times.skew + times.guard_check + times.tool_timeout + times.poll  # its monitor stalled
    latest_fence_by_monitor = times.skew + times.arbitration + times.poll + times.tool_timeout
    assert times.drop_after >= max(latest_fence_by_guard, latest_fence_by_monitor)
    assert times.corosync_stale + times.step <= times.detect + times.drop_after  # a hung corosync fences first
    assert times.deadline < times.detect + times.drop_after  # a paused host past its deadline fences on resume
    assert times.view_stale <= times.deadline  # its old view answers no script after that


@pytest.mark.parametrize("t", TIMEOUTS)
def test_the_statefile_never_decides_alone_and_never_blocks_a_step(t):
    times, _stall = budget(t)
    assert times.io_deadline <= times.slot_stale <= times.arbitration
    assert times.io_deadline < times.step_late


def test_the_figures_for_xapis_smallest_timeout():
    found = timing.Timing(10).to_dict()
    expected = {"token_ms": 9000, "consensus_ms": 1000, "detect": 10.0, "deadline": 9.0, "guard": 9.0,
                "guard_check": 2.5, "corosync_stale": 9.0, "arbitration": 1.25, "drop_after": 3.75,
                "knet_ping_interval_ms": 250, "knet_pong_count": 1}
    assert {k: found[k] for k in expected} == expected
