"""The fence monitor's decision, one poll at a time, and the scripts' argument rules."""

import os

import pytest

from sm_clusterstack.corostack import common, daemon, main, monitor, statefile, tools
from sm_clusterstack.stacks import mtc

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
DATA = os.path.join(os.path.dirname(__file__), "data", "corosync")


@pytest.fixture
def paths(tmp_path, monkeypatch):
    fenced = []
    monkeypatch.setattr(monitor, "fence", lambda p, argv, reason: fenced.append(reason))
    monkeypatch.setattr(monitor, "CONFIRM_DELAY", 0)
    found = daemon.Paths(str(tmp_path))
    found.fenced = fenced
    return found


def run_polls(paths, answers, mode="armed"):
    daemon.set_fencing(paths, mode)
    was = False
    for answer in answers:
        was = monitor.step(paths, [], was, probe=lambda: answer)
    return paths.fenced


def test_armed_host_that_loses_quorum_fences_once(paths):
    assert run_polls(paths, [True, True, False, False]) == ["quorum lost"]
    assert daemon.fencing_mode(paths) == "fenced"


def test_armed_host_whose_corosync_dies_fences(paths):
    assert run_polls(paths, [True, None]) == ["corosync is not running"]


def test_corosync_absent_once_is_checked_again_before_fencing(paths):
    daemon.set_fencing(paths, "armed")
    answers = iter([None, True])
    assert monitor.step(paths, [], True, probe=lambda: next(answers)) is True
    assert paths.fenced == []


def test_host_never_quorate_since_armed_does_not_fence(paths):
    assert run_polls(paths, [False, None, False]) == []


@pytest.mark.parametrize("mode", ["disarmed", "excluded"])
def test_disarmed_or_excluded_host_does_not_fence(paths, mode):
    assert run_polls(paths, [True, False], mode=mode) == []


def test_rearmed_host_must_be_quorate_again_before_fencing(paths):
    daemon.set_fencing(paths, "armed")
    was = monitor.step(paths, [], False, probe=lambda: True)
    daemon.set_fencing(paths, "disarmed")
    was = monitor.step(paths, [], was, probe=lambda: True)
    daemon.set_fencing(paths, "armed")
    monitor.step(paths, [], was, probe=lambda: False)
    assert paths.fenced == []


def test_no_fencing_once_the_pool_state_is_invalid(paths):
    daemon.set_fencing(paths, "armed")
    was = monitor.step(paths, [], False, probe=lambda: True, invalid=lambda: True)
    monitor.step(paths, [], was, probe=lambda: False, invalid=lambda: True)
    assert paths.fenced == [] and daemon.fencing_mode(paths) == "disarmed"


def test_pool_state_read_from_the_statefile(tmp_path):
    path = str(tmp_path / "sf")
    assert not monitor.pool_invalid(path)  # unreadable: no proof, fencing goes ahead
    open(path, "wb").close()
    statefile.write(path, statefile.PoolState(GEN, "active"))
    assert not monitor.pool_invalid(path)
    statefile.write(path, statefile.PoolState(GEN, "invalid"))
    assert monitor.pool_invalid(path)


def test_unknown_fencing_mode_reads_as_disarmed(paths):
    with open(paths.fencing, "w") as f:
        f.write("maybe\n")
    assert daemon.fencing_mode(paths) == "disarmed"


@pytest.mark.parametrize("argv, choices, config, expected", [
    (["init"], ("init", "active"), True, ("init", "")),
    (["-C", "/x.conf", "active"], ("init", "active"), True, ("active", "/x.conf")),
    ([], (), False, ("", "")),
])
def test_script_arguments_accepted(argv, choices, config, expected):
    assert common.parse_args(argv, choices, config) == expected


@pytest.mark.parametrize("argv, choices, config", [
    (["bogus"], ("init",), True), ([], ("init",), True), (["init", "init"], ("init",), True),
    (["-C"], (), True), (["-C", "a", "-C", "b"], (), True), (["-C", "a"], (), False), (["x"], (), False),
])
def test_bad_script_arguments_are_invalid_parameter(argv, choices, config):
    with pytest.raises(common.Failure) as caught:
        common.parse_args(argv, choices, config)
    assert caught.value.code == mtc.INVALID_PARAMETER


def test_unknown_script_is_an_internal_bug(capsys):
    assert main.main("ha_frobnicate", []) == mtc.INTERNAL_BUG
    assert "not a script" in capsys.readouterr().err


def test_probe_counts_quorum_without_hosts_that_left_cleanly(fake_runner, monkeypatch):
    """corosync says not quorate (1 of 3), but the two others are excluded: no fencing."""
    monkeypatch.setattr(tools, "find_tool", lambda name: "/usr/sbin/" + name)
    quorum = open(os.path.join(DATA, "quorumtool-1-of-3-not-quorate.txt")).read()
    nodelist_text = open(os.path.join(DATA, "cmapctl-nodelist.txt")).read()
    nodes = tools.parse_nodelist(nodelist_text)
    local = nodes[tools.parse_quorumtool(quorum).members[0]]
    others = [h for h in nodes.values() if h != local]
    for excluded, expected in ((others, True), (others[:1], False)):
        fake_runner.expect(["/usr/sbin/corosync-quorumtool", "-s", "-p"], returncode=2, stdout=quorum)
        fake_runner.expect(["/usr/sbin/corosync-cmapctl", "nodelist"], stdout=nodelist_text)
        assert monitor.quorate(fake_runner, excluded=lambda: excluded) is expected


def test_hanging_corosync_counts_as_gone(fake_runner, monkeypatch):
    monkeypatch.setattr(tools, "find_tool", lambda name: "/usr/sbin/" + name)
    fake_runner.expect(["/usr/sbin/corosync-quorumtool", "-s", "-p"], returncode=None, timed_out=True)
    assert monitor.quorate(fake_runner) is None
