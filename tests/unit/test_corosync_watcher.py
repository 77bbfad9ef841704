"""corowatch.Watcher's own bookkeeping, without its thread or corosync."""

from sm_clusterstack.corostack import corowatch


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def watcher_with(members, links):
    clock = Clock()
    w = corowatch.Watcher(0.1, 1.0, clock=clock)
    w.state = w.state._replace(connected=True, membership=corowatch.Membership(True, 1, members),
                               links=links, links_at=90.0)
    return w, clock


def test_a_node_joining_with_a_link_read_down_before_it_joined_has_an_unknown_link():
    """The knet link read before node 2's membership came said down: that reading is older than its join."""
    w, clock = watcher_with([1], {1: (True, 0), 2: (False, 0), 3: (False, 0)})
    clock.now = 101.0
    w._delivered(True, 2, [1, 2])
    assert w.state.membership.members == [1, 2]
    assert w.state.links == {1: (True, 0), 3: (False, 0)}  # 2 unknown; 3, not a member, still down
    assert w.state.links_at == 101.0 and w.state.answered == 101.0


def test_a_member_whose_link_went_down_stays_down_in_a_new_membership():
    w, clock = watcher_with([1, 2, 3], {1: (True, 0), 2: (False, 0), 3: (True, 500)})
    clock.now = 101.0
    w._delivered(True, 2, [1, 2])
    assert w.state.links == {1: (True, 0), 2: (False, 0), 3: (True, 500)}
    assert w.state.links_at == 90.0  # nothing forgotten: the observer keeps its reading
