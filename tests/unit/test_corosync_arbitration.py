"""Survival rules (xhad's sm.c test_Survival_Rule / am_I_in_largest_partition), drop and start rules."""

import pytest

from sm_clusterstack.corostack import arbitration as arb
from sm_clusterstack.corostack.hostslot import Slot

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
H = ["8f1c2a34-0000-4000-8000-00000000000%d" % i for i in range(1, 6)]


def peer(host, partition, state="online", fresh=True, link_up=True, since=0.0):
    return arb.Peer(Slot(GEN, host, 7, state, partition, link_up), fresh, since)


def peers_of(*groups, **kw):
    """Every host of each group reporting its group."""
    return {h: peer(h, g, **kw) for g in groups for h in g}


def decide(me, partition, counted, peers, master="", link_up=True):
    return arb.decide(me, set(partition), set(counted), peers, master, link_up)


def test_a_strict_majority_survives_without_the_statefile():
    assert decide(H[0], H[:2], H[:3], None) == arb.WIN
    assert decide(H[2], H[2:3], H[:3], None) == arb.LOSE


def test_the_minority_loses_once_the_majority_reported_its_partition():
    assert decide(H[2], H[2:3], H[:3], peers_of(H[:2], H[2:3])) == arb.LOSE


def test_reports_still_showing_the_old_membership_make_it_wait():
    assert decide(H[2], H[2:3], H[:3], peers_of(H[:3])) == arb.WAIT
    mine_late = peers_of(H[:2], H[2:3])
    mine_late[H[1]] = peer(H[1], H[1:3])  # overlaps mine but differs
    assert decide(H[2], H[2:3], H[:3], mine_late) == arb.WAIT


@pytest.mark.parametrize("master,winner", [("", 0), (H[1], 1), (H[2], 2)])
def test_one_one_one_keeps_the_master_else_the_lowest_host(master, winner):
    groups = [[h] for h in H[:3]]
    results = [decide(h, [h], H[:3], peers_of(*groups), master) for h in H[:3]]
    assert results == [arb.WIN if i == winner else arb.LOSE for i in range(3)]


def test_two_two_keeps_exactly_one_side():
    left, right = H[:2], H[2:4]
    results = [decide(h, g, H[:4], peers_of(left, right)) for g in (left, right) for h in g]
    assert results == [arb.WIN, arb.WIN, arb.LOSE, arb.LOSE]


def test_an_even_split_prefers_the_side_whose_links_are_up():
    # a two-host pool: host 1 (the lowest, and the master) had its own network cut
    peers = {H[0]: peer(H[0], H[:1], link_up=False), H[1]: peer(H[1], H[1:2])}
    assert decide(H[0], H[:1], H[:2], peers, master=H[0], link_up=False) == arb.LOSE
    assert decide(H[1], H[1:2], H[:2], peers, master=H[0]) == arb.WIN


@pytest.mark.parametrize("lost", [0, 1])
def test_a_two_host_pool_survives_the_death_of_either_host(lost):
    alive = 1 - lost
    peers = {H[lost]: peer(H[lost], H[:2], fresh=False), H[alive]: peer(H[alive], [H[alive]])}
    assert decide(H[alive], [H[alive]], H[:2], peers) == arb.WIN


def test_without_the_statefile_a_minority_cannot_win():
    assert decide(H[1], [H[1]], H[:2], None) == arb.LOSE


def test_hosts_fencing_or_gone_compete_with_nothing():
    peers = {H[0]: peer(H[0], H[:1], state="fencing"), H[1]: peer(H[1], H[1:2])}
    assert decide(H[1], [H[1]], H[:2], peers, master=H[0]) == arb.WIN


def test_excluded_hosts_are_not_counted():
    assert decide(H[0], H[:1], H[:1], peers_of(H[:1])) == arb.WIN  # H[1] excluded: 1 of 1
    assert decide(H[1], H[1:2], H[:1], peers_of(H[:1], H[1:2])) == arb.LOSE


@pytest.mark.parametrize("peer_view,lost_for,dropped", [
    (peer(H[2], [H[2]], state="fenced"), 0.1, True),
    (peer(H[2], [H[2]], state="left"), 0.1, True),
    (peer(H[2], [H[2]], state="fenced", fresh=False, since=9.0), 0.1, True),  # its guard's last word
    (peer(H[2], [H[2]], state="fencing"), 4.2, False),  # still running, not yet fenced
    (peer(H[2], [H[2]], state="fencing"), 100, False),  # fresh: it runs, its fence has not taken effect (issue 18)
    (peer(H[2], [H[2]], state="fencing", fresh=False, since=1.0), 4.25, True),  # its slot stopped: the fence
    (peer(H[2], H[:3], fresh=False, since=100), 4.2, False),  # a still slot: maybe only its statefile stalled
    (peer(H[2], H[:3], fresh=False, since=100), 4.25, True),
    (None, 4.2, False),
    (None, 4.25, True),
])
def test_a_lost_host_is_dropped_only_past_its_fence_deadline(peer_view, lost_for, dropped):
    assert arb.may_drop(peer_view, lost_for, drop_after=4.25, me=H[0]) is dropped


def test_a_host_whose_fresh_slot_still_has_this_one_is_never_dropped():
    assert not arb.may_drop(peer(H[2], H[:3]), 100, drop_after=4.25, me=H[0])  # its corosync still has us
    assert arb.may_drop(peer(H[2], H[:3], fresh=False, since=9), 100, drop_after=4.25, me=H[0])
    assert arb.may_drop(peer(H[2], H[2:3]), 4.25, drop_after=4.25, me=H[0])  # alone: it fences by then


def start(me, partition, pool_state="active", excluded=(), peers=None, subset=False, master=""):
    return arb.start(me, set(partition), set(H[:3]), set(excluded), pool_state, peers or {}, subset, True,
                     master)


def test_start_in_pool_state_init_waits_for_every_host():
    assert start(H[0], H[:2], "init") == "wait"
    assert start(H[0], H[:3], "init") == "online"


def test_start_joins_an_existing_liveset_it_is_connected_to():
    online = peers_of(H[1:3])
    assert start(H[0], H[:3], peers=online) == "online"
    assert start(H[0], H[:1], peers=online) == "wait"


def test_an_excluded_host_joins_a_liveset_but_cannot_form_one_alone():
    assert start(H[0], H[:3], excluded=[H[0]], peers=peers_of(H[1:3])) == "online"
    assert start(H[0], H[:1], excluded=[H[0]]) == "blocked"
    assert arb.start(H[0], {H[0]}, {H[0]}, {H[0]}, "active", {}, False, True, "") == "online"  # all excluded


def test_at_boot_a_subset_forms_only_near_the_timeout_and_only_if_it_wins():
    stale = {h: peer(h, [h], state="joining", fresh=False) for h in H[1:3]}
    assert start(H[0], H[:1], peers=stale) == "wait"
    assert start(H[0], H[:1], peers=stale, subset=True) == "online"
    joining = {H[1]: peer(H[1], H[1:3], state="joining"), H[2]: peer(H[2], H[1:3], state="joining")}
    assert start(H[0], H[:1], peers=joining, subset=True) == "wait"
