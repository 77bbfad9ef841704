"""corosync tool output (recorded from a real three-node cluster) -> membership -> liveset."""

import os

import pytest

from sm_clusterstack.corostack import livesetbuild, tools
from sm_clusterstack.corostack.statefile import PoolState
from sm_clusterstack.stacks import liveset
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

DATA = os.path.join(os.path.dirname(__file__), "data", "corosync")
H1, H2, H3 = ("8f1c2a34-0000-4000-8000-00000000000%d" % i for i in (1, 2, 3))
N1, N2, N3 = 39584, 24902, 24980  # their node ids in the recording
GENERATION = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"


def recorded(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def conf(local=H1):
    hosts = [Host(h, "10.213.57.%d" % i) for i, h in enumerate((H1, H2, H3), 1)]
    return XhadConfig(GENERATION, hosts, local, "/dev/statefile")


NODELIST = tools.parse_nodelist(recorded("cmapctl-nodelist.txt"))
GOOD_VIEW = livesetbuild.StatefileView(PoolState(GENERATION, "active", H2, [H3]), True, False)


def test_quorate_three_node_output_parses():
    found = tools.parse_quorumtool(recorded("quorumtool-3-quorate.txt"))
    assert (found.quorate, found.local_node, found.members) == (True, N1, sorted([N1, N2, N3]))


def test_isolated_node_output_is_not_quorate():
    found = tools.parse_quorumtool(recorded("quorumtool-1-of-3-not-quorate.txt"))
    assert (found.quorate, found.local_node, found.members) == (False, N3, [N3])


def test_nodelist_maps_node_ids_to_host_ids():
    assert NODELIST == {N1: H1, N2: H2, N3: H3}


@pytest.mark.parametrize("text, says", [
    ("", "no Quorate"),
    ("Quorate: Maybe\nNode ID: 1\n", "no Quorate"),
    ("Quorate: Yes\nNode ID: x1\n", "no Quorate"),
    ("Quorate: Yes\nNode ID: 5\nNodeid Votes Qdevice Name\n  4 1 NR a\n", "not in its own membership"),
    ("Quorate: Yes\nNode ID: 5\nNodeid Votes Qdevice Name\n  five 1 NR a\n", "unreadable member"),
])
def test_unreadable_quorumtool_output_is_refused(text, says):
    with pytest.raises(tools.ToolOutputError, match=says):
        tools.parse_quorumtool(text)


@pytest.mark.parametrize("text, says", [
    ("nodelist.node.0.nodeid (u32) = 7\nnodelist.node.0.name (str) = host-a\n", "name"),
    ("nodelist.node.0.nodeid (u32) = x\nnodelist.node.0.name (str) = %s\n" % H1, "nodeid"),
    ("garbage\n", "unreadable line"),
])
def test_unreadable_nodelist_is_refused(text, says):
    with pytest.raises(tools.ToolOutputError, match=says):
        tools.parse_nodelist(text)


def test_liveset_of_a_quorate_cluster_is_online_with_every_host_live():
    members = tools.parse_quorumtool(recorded("quorumtool-3-quorate.txt"))
    built = livesetbuild.build(conf(), members, NODELIST, GOOD_VIEW)
    parsed = liveset.parse(built.to_xml())
    assert (parsed.status, parsed.localhost, sorted(parsed.live_hosts())) == ("Online", H1, [H1, H2, H3])
    assert [(h.master, h.excluded, h.statefile_access) for h in parsed.hosts] == [
        (False, False, True), (True, False, True), (False, True, True)]


def test_liveset_of_the_majority_shows_the_cut_host_dead():
    members = tools.parse_quorumtool(recorded("quorumtool-2-of-3-quorate.txt"))
    built = livesetbuild.build(conf(), members, NODELIST, GOOD_VIEW)
    assert (built.status, built.live_hosts()) == ("Online", [H1, H2])
    assert not built.host(H3).statefile_access


def test_liveset_of_the_isolated_host_is_starting_with_only_itself():
    members = tools.parse_quorumtool(recorded("quorumtool-1-of-3-not-quorate.txt"))
    built = livesetbuild.build(conf(local=H3), members, NODELIST, GOOD_VIEW)
    assert (built.status, built.localhost, built.live_hosts()) == ("Starting", H3, [H3])


def test_liveset_reports_a_corrupt_statefile_on_every_host():
    members = tools.parse_quorumtool(recorded("quorumtool-3-quorate.txt"))
    view = livesetbuild.StatefileView(None, True, True)
    built = liveset.parse(livesetbuild.build(conf(), members, NODELIST, view).to_xml())
    assert all(h.statefile_corrupted for h in built.hosts)
    assert not any(h.master for h in built.hosts)


def test_liveset_without_statefile_access_warns_statefile_lost():
    members = tools.parse_quorumtool(recorded("quorumtool-3-quorate.txt"))
    built = livesetbuild.build(conf(), members, NODELIST, livesetbuild.StatefileView(None, False, False))
    assert built.warnings == {"statefile_lost": True}
    assert not any(h.statefile_access for h in built.hosts)


def test_members_not_in_xhad_conf_are_ignored():
    members = tools.Membership(True, N1, [N1, 777])
    nodelist = dict(NODELIST)
    nodelist[777] = "00000000-0000-4000-8000-000000000777"
    built = livesetbuild.build(conf(), members, nodelist, GOOD_VIEW)
    assert [h.host_id for h in built.hosts] == [H1, H2, H3] and built.live_hosts() == [H1]


def test_master_is_kept_while_live_else_lowest_live_node_not_excluded():
    members = tools.parse_quorumtool(recorded("quorumtool-3-quorate.txt"))
    assert livesetbuild.choose_master(conf(), members, NODELIST, PoolState(GENERATION, master=H1)) == H1
    assert livesetbuild.choose_master(conf(), members, NODELIST, PoolState(GENERATION)) == H2
    assert livesetbuild.choose_master(conf(), members, NODELIST, PoolState(GENERATION, excluded=[H2])) == H3
    cut = tools.parse_quorumtool(recorded("quorumtool-2-of-3-quorate.txt"))
    assert livesetbuild.choose_master(conf(), cut, NODELIST, PoolState(GENERATION, master=H3)) == H2


@pytest.mark.parametrize("returncode, error", [(1, tools.DaemonAbsent), (3, tools.ToolOutputError)])
def test_quorumtool_exit_codes_are_interpreted(fake_runner, monkeypatch, returncode, error):
    monkeypatch.setattr(tools, "find_tool", lambda name: "/usr/sbin/" + name)
    fake_runner.expect(["/usr/sbin/corosync-quorumtool", "-s", "-p"], returncode=returncode,
                       stderr=recorded("quorumtool-no-daemon.stderr"))
    with pytest.raises(error):
        tools.query_membership(fake_runner)


def test_not_quorate_exit_code_still_gives_the_membership(fake_runner, monkeypatch):
    monkeypatch.setattr(tools, "find_tool", lambda name: "/usr/sbin/" + name)
    fake_runner.expect(["/usr/sbin/corosync-quorumtool", "-s", "-p"], returncode=2,
                       stdout=recorded("quorumtool-1-of-3-not-quorate.txt"))
    assert tools.query_membership(fake_runner).members == [N3]


def test_cmapctl_without_daemon_means_daemon_absent(fake_runner, monkeypatch):
    monkeypatch.setattr(tools, "find_tool", lambda name: "/usr/sbin/" + name)
    fake_runner.expect(["/usr/sbin/corosync-cmapctl", "nodelist"], returncode=1,
                       stderr=recorded("cmapctl-no-daemon.stderr"))
    with pytest.raises(tools.DaemonAbsent):
        tools.query_nodelist(fake_runner)


def test_last_host_after_others_left_cleanly_keeps_quorum():
    """xhad does not count excluded hosts: two of three shut down cleanly, the third stays Online."""
    isolated = tools.parse_quorumtool(recorded("quorumtool-1-of-3-not-quorate.txt"))
    local = NODELIST[isolated.members[0]]
    others = [h for h in NODELIST.values() if h != local]
    view = livesetbuild.StatefileView(PoolState(GENERATION, "active", local, others), True, False)
    ls = livesetbuild.build(conf(local=local), isolated, NODELIST, view)
    assert ls.status == "Online"
    assert livesetbuild.has_quorum(isolated, NODELIST, others)


def test_one_host_excluded_is_not_enough_for_the_isolated_host():
    isolated = tools.parse_quorumtool(recorded("quorumtool-1-of-3-not-quorate.txt"))
    local = NODELIST[isolated.members[0]]
    other = [h for h in NODELIST.values() if h != local][0]
    assert not livesetbuild.has_quorum(isolated, NODELIST, [other])  # 1 of 2 counted: no majority


def test_excluded_host_still_running_does_not_count_as_live():
    partition = tools.Membership(False, N1, [N1, N2])
    assert not livesetbuild.has_quorum(partition, {N1: H1, N2: H2, N3: H3, 4: "h4", 5: "h5"}, [H2])


def test_corosyncs_own_quorum_is_kept():
    assert livesetbuild.has_quorum(tools.parse_quorumtool(recorded("quorumtool-2-of-3-quorate.txt")), NODELIST, [])
