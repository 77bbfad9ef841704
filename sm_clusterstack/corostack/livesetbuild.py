"""The liveset: configured hosts, corosync's membership and the statefile.

- status: Online when this partition has quorum, Starting otherwise; as
  with xhad, hosts that left cleanly (excluded) do not count: the last
  hosts of a pool being shut down host by host keep quorum;
- liveness: the host's node is a member of this partition;
- master: the host the statefile names, if it is live;
- statefile_access / statefile_corrupted: what this host found reading the
  statefile (a live peer is taken to see what we see; a dead one sees nothing);
- excluded: as the statefile records.
"""

import typing

from sm_clusterstack.corostack.statefile import PoolState
from sm_clusterstack.corostack.tools import Membership
from sm_clusterstack.stacks.liveset import Liveset, LivesetHost
from sm_clusterstack.stacks.xhadconf import XhadConfig


class StatefileView(object):
    """What reading the statefile gave this host."""

    def __init__(self, state: typing.Optional[PoolState], access: bool, corrupted: bool) -> None:
        self.state = state
        self.access = access
        self.corrupted = corrupted


def live_host_ids(conf: XhadConfig, membership: Membership, nodelist: typing.Dict[int, str]) -> typing.List[str]:
    """The configured HostIDs (lower case) whose node is in the membership."""
    configured = set(h.host_id.lower() for h in conf.hosts)
    live = set(nodelist.get(node, "") for node in membership.members)
    return sorted(configured & live)


def has_quorum(membership: Membership, nodelist: typing.Dict[int, str],
               excluded: typing.Iterable[str]) -> bool:
    """Quorum as HA counts it: corosync's, or a strict majority of the hosts not excluded.

    ``nodelist`` maps every configured node id to its HostID; excluded
    hosts (ha_set_excluded: a clean leave) count neither as live nor as
    expected.  An even split without them is no majority, so no side keeps it.
    """
    if membership.quorate:
        return True
    gone = set(h.lower() for h in excluded)
    counted = set(node for node, host in nodelist.items() if host not in gone)
    live = counted & set(membership.members)
    return bool(counted) and 2 * len(live) > len(counted)


def build(conf: XhadConfig, membership: Membership, nodelist: typing.Dict[int, str],
          view: StatefileView) -> Liveset:
    """The liveset this host prints."""
    live = set(live_host_ids(conf, membership, nodelist))
    state = view.state
    master = state.master if state is not None else ""
    excluded = set(state.excluded) if state is not None else set()
    hosts = []
    for host in conf.hosts:
        host_id = host.host_id.lower()
        is_live = host_id in live
        hosts.append(LivesetHost(
            host.host_id, liveness=is_live, master=is_live and host_id == master,
            statefile_access=is_live and view.access, statefile_corrupted=view.corrupted,
            excluded=host_id in excluded))
    status = "Online" if has_quorum(membership, nodelist, excluded) else "Starting"
    warnings = {"statefile_lost": not view.access}
    return Liveset(status, conf.local_host_id, hosts, warnings=warnings)


def choose_master(conf: XhadConfig, membership: Membership, nodelist: typing.Dict[int, str],
                  state: PoolState) -> str:
    """The master of the quorate partition: the recorded one if live, else the lowest live node.

    Excluded hosts are never chosen; "" when no host qualifies.
    """
    live = set(live_host_ids(conf, membership, nodelist)) - set(state.excluded)
    if state.master in live:
        return state.master
    by_node = sorted((node, host) for node, host in nodelist.items()
                     if host in live and node in membership.members)
    return by_node[0][1] if by_node else ""
