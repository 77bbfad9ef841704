"""corosync tool output (recorded from a real three-node cluster), and the liveset under xapi's own rules."""

import json
import os
import re

import pytest

import xapi_liveset_rules as xapi
from corostack_fakes import H, Rig
from sm_clusterstack.corostack import fencing, livesetbuild, slotio, tools, view
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


def test_knet_stats_give_each_nodes_link_and_latency():
    text = ("stats.knet.handle.tx_crypt_time_min (u64) = 18446744073709551615\n"
            "stats.knet.node2.link0.connected (u8) = 1\nstats.knet.node2.link0.latency_ave (u32) = 250\n"
            "stats.knet.node3.link0.connected (u8) = 0\nstats.knet.node3.link0.latency_ave (u32) = 900\n"
            "stats.knet.node3.link1.connected (u8) = 1\nstats.knet.node3.link1.latency_ave (u32) = 700\n")
    assert tools.parse_knet_stats(text) == {2: (True, 250), 3: (True, 700)}


def liveset_of(rig):
    """What ha_query_liveset prints for the rig's monitor: its published view, built and serialised."""
    view.publish(rig.paths, rig.monitor, rig.clock.now)
    found = view.read(rig.paths, 60)
    return livesetbuild.build(rig.conf, found, rig.timing.slot_stale).to_xml()


def online_rig(tmp_path, **kw):
    rig = Rig(tmp_path, **kw)
    rig.poll(H[:3], {h: ("joining", H[:3]) for h in H[1:3]})
    assert rig.monitor.state == "online"
    rig.poll(others={h: ("online", H[:3]) for h in H[1:3]})
    return rig


def test_an_online_liveset_is_read_by_xapis_rules_with_every_block_complete(tmp_path):
    rig = online_rig(tmp_path, master=H[1])
    got = xapi.parse(liveset_of(rig))
    assert (got["status"], got["localhost"]) == ("online", H[0])
    assert {h: f["liveness"] for h, f in got["hosts"].items()} == {h: True for h in H[:3]}
    assert [h for h, f in got["hosts"].items() if f["master"]] == [H[1]]
    latencies, raw_hosts = got["raw"]
    assert sorted(latencies) == sorted(xapi.LATENCIES) and sorted(raw_hosts) == H[:3]
    assert raw_hosts[H[0]]["heartbeat_active_list_on_heartbeat"] == H[:3]
    assert got["warnings"] == {name: False for name in xapi.WARNINGS}


def test_a_joining_host_is_starting_and_nobody_is_live(tmp_path):
    rig = Rig(tmp_path)
    rig.poll(H[:1])
    got = xapi.parse(liveset_of(rig))
    assert got["status"] == "starting" and not any(f["liveness"] for f in got["hosts"].values())
    assert got["raw"] is not None and got["warnings"] is not None


def test_statefile_lost_is_warned_with_the_blocks_still_complete(tmp_path):
    rig = online_rig(tmp_path)
    os.rename(rig.conf.statefile, rig.conf.statefile + ".gone")
    rig.poll()
    got = xapi.parse(liveset_of(rig))
    assert got["warnings"]["statefile_lost"] is True
    assert got["hosts"][H[0]]["statefile_access"] is False


def test_no_kernel_watchdog_is_a_note_of_the_raw_status_that_xapi_ignores(tmp_path):
    rig = online_rig(tmp_path)  # the default setting, /dev/watchdog, which this machine may lack
    rig.monitor.watchdog = "watchdog device /dev/watchdog: No such file or directory"
    rig.monitor.kernel_fence = ""  # sysrq (the next test: none)
    printed = liveset_of(rig)
    assert xapi.parse(printed)["status"] == "online"  # an unknown leaf: xapi reads on
    assert liveset.parse(printed).notes == {"watchdog": "no kernel watchdog: " + rig.monitor.watchdog}
    rig.monitor.watchdog = ""
    assert liveset.parse(liveset_of(rig)).notes == {}


def test_buffered_statefile_io_and_untrusted_slots_are_notes_xapi_ignores(tmp_path):
    rig = online_rig(tmp_path)
    rig.monitor.watchdog = ""
    rig.monitor.kernel_fence = ""  # sysrq or not, on the machine running the test
    found = slotio.Round(0.0)
    found.buffered = "O_DIRECT refused (Invalid argument): buffered I/O with fdatasync"
    found.damaged = {H[2]: "checksum mismatch (a torn or damaged block)"}
    rig.monitor.observer.round = found
    printed = liveset_of(rig)
    assert xapi.parse(printed)["status"] == "online"
    assert liveset.parse(printed).notes == {"statefile_io": found.buffered,
                                            "statefile_blocks": H[2] + ": checksum mismatch (a torn or damaged block)"}


def test_a_kernel_fence_made_by_reboot_2_for_want_of_sysrq_is_a_note_too(tmp_path):
    rig = online_rig(tmp_path)
    rig.monitor.watchdog = ""
    rig.monitor.kernel_fence = fencing.kernel_fence_note(str(tmp_path / "no-sysrq"))
    printed = liveset_of(rig)
    assert xapi.parse(printed)["status"] == "online"
    assert liveset.parse(printed).notes == {"fence": rig.monitor.kernel_fence}
    assert "reboot(2)" in rig.monitor.kernel_fence


@pytest.mark.parametrize("cut", ["network_bonding_error", "heartbeat_latency_max", "time_since_last_heartbeat"])
def test_the_xapi_rules_port_rejects_a_partial_block(tmp_path, cut):
    """The port is strict where xapi is: the same output with one entry removed is refused."""
    text = liveset_of(online_rig(tmp_path)).decode()
    partial, count = re.subn("<%s>[^<]*</%s>" % (cut, cut), "", text, count=1)
    assert count == 1
    with pytest.raises(xapi.XapiRejects, match="Missing entry '%s'" % cut):
        xapi.parse(partial)


def test_the_xapi_rules_port_refuses_extra_content_in_localhost():
    doc = ("<ha_liveset_info><status>Online</status><localhost><HostID>%s</HostID><HostIndex>0</HostIndex>"
           "</localhost></ha_liveset_info>" % H[0])
    with pytest.raises(xapi.XapiRejects, match="localhost"):
        xapi.parse(doc)


def test_the_view_is_typed_and_view_json_keeps_its_keys(tmp_path):
    """``view.json`` is read by scripts of the daemon's own version or newer: its keys stay as they were."""
    rig = online_rig(tmp_path, master=H[1])
    view.publish(rig.paths, rig.monitor, rig.clock.now)
    found = view.read(rig.paths, 60)
    assert isinstance(found, view.View) and (found.state, found.master, found.committed) == ("online", H[1], H[:3])
    with open(rig.paths.view) as f:
        written = json.load(f)
    assert sorted(written) == ["committed", "excluded", "fence_failures", "hosts", "kernel_fence", "latency", "master",
                               "partition", "pool_state", "reason", "state", "statefile_access", "statefile_corrupted",
                               "statefile_damaged", "statefile_io", "time", "warnings", "watchdog"]
    assert sorted(written["latency"]) == ["heartbeat", "statefile"]
    assert view.from_json(view.to_json(found)) == found
    older = {k: v for k, v in written.items() if k not in ("watchdog", "kernel_fence", "fence_failures")}  # older
    assert view.from_json(older) == found._replace(watchdog="", kernel_fence="", fence_failures=0)


def test_a_stale_view_is_none(tmp_path):
    rig = online_rig(tmp_path)
    view.publish(rig.paths, rig.monitor, rig.clock.now)
    assert view.read(rig.paths, -1) is None
