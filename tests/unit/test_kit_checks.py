"""The kit's check verdicts on plain data: driver-info members, bad-input answers, stack statics."""

import os
import xmlrpc.client

import pytest

from sm_clusterstack import runner, stacks
from sm_clusterstack.kit import driver_badinput, driver_static, stack_live, stack_static
from sm_clusterstack.kit import result as res
from sm_clusterstack.smapi import driverinfo


def _info(**changes):
    info = {"name": "n", "description": "d", "vendor": "v", "copyright": "c", "driver_version": "1",
            "required_api_version": "1.0", "capabilities": ["SR_PROBE"],
            "configuration": [{"key": "device", "description": "the block device"}],
            "required_cluster_stack": ["corosync"]}
    info.update(changes)
    return {k: v for k, v in info.items() if v is not None}


def _stack_verdict(info):
    groups = driver_static._split(driverinfo.findings(info))
    return driver_static.check_required_cluster_stack(info, groups[driver_static.REQUIRED_CLUSTER_STACK])


def _config_verdict(info):
    groups = driver_static._split(driverinfo.findings(info))
    return driver_static.check_configuration(info, groups[driver_static.CONFIGURATION])


def test_sr_type_is_the_lowercased_name_before_sr():
    assert driver_static.sr_type("/opt/xensource/sm/OCFS2SR") == "ocfs2"
    assert driver_static.sr_type("/x/notadriver") == ""


@pytest.mark.parametrize("value", [["corosync"], [], ["corosync", "melio"]])
def test_required_cluster_stack_of_valid_names_passes(value):
    assert _stack_verdict(_info(required_cluster_stack=value))[0] == res.PASS


@pytest.mark.parametrize("value", [None, ["../corosync"], ["corosync", "corosync"], "corosync", [3], [""]])
def test_required_cluster_stack_missing_or_invalid_fails(value):
    assert _stack_verdict(_info(required_cluster_stack=value))[0] == res.FAIL


@pytest.mark.parametrize("value", [
    [{"key": "device"}], [{"key": "", "description": "x"}], ["device"],
    [{"key": "a", "description": "x"}, {"key": "a", "description": "y"}], "device",
])
def test_malformed_configuration_fails(value):
    assert _config_verdict(_info(configuration=value))[0] == res.FAIL


def test_configuration_names_its_keys():
    assert _config_verdict(_info()) == (res.PASS, "device_config keys: device")


def _result(code=0, out="", err="", timed_out=False):
    return runner.Result(["x"], None if timed_out else code, out, err, timed_out)


FAULT = xmlrpc.client.dumps(xmlrpc.client.Fault(600, "bad call"), methodresponse=True)


@pytest.mark.parametrize("result,why", [
    (_result(0, FAULT), ""),
    (_result(1, FAULT), "exit 1"),
    (_result(0, FAULT, "Traceback (most recent call last):\n  File"), "traceback (exit 0)"),
    (_result(0, "garbage"), "stdout is not an XML-RPC response"),
    (_result(0, xmlrpc.client.dumps((None,), methodresponse=True, allow_none=True)), "answered a value, not a fault"),
    (_result(timed_out=True), "timed out"),
])
def test_bad_input_answer_judged(result, why):
    assert driver_badinput.judge(result).startswith(why)
    assert bool(driver_badinput.judge(result)) == bool(why)


def test_bad_input_family_covers_every_config_key():
    names = [name for name, _ in driver_badinput.cases(["device", "path"])]
    assert len(names) == len(set(names)) >= 30
    assert "path-path-traversal" in names and "device-option" in names


def test_missing_scripts_lists_absent_and_non_executable(tmp_path):
    for script in stacks.SCRIPTS[1:]:
        (tmp_path / script).write_text("#!/bin/sh\n")
        os.chmod(str(tmp_path / script), 0o755)
    os.chmod(str(tmp_path / stacks.SCRIPTS[2]), 0o644)
    assert stack_static.missing_scripts(str(tmp_path)) == [stacks.SCRIPTS[0], stacks.SCRIPTS[2]]


@pytest.mark.parametrize("content,outcome", [
    (None, res.PASS), ("ocfs2 lvm\n", res.PASS), ("", res.FAIL), ("ocfs2 ../lvm", res.FAIL),
])
def test_supported_srs_verdict(tmp_path, content, outcome):
    stack = tmp_path / "corosync"
    stack.mkdir()
    if content is not None:
        (stack / stacks.SUPPORTED_SRS_FILE).write_text(content)
    assert stack_static.check_supported_srs(str(stack))[0] == outcome


def test_invalid_stack_name_fails():
    assert stack_static.check_name("/root/-bad")[0] == res.FAIL
    assert stack_static.check_name("/root/corosync/")[0] == res.PASS


def _suite_with_stop(result, detail):
    suite = res.Suite("stack", "s", "/s")
    suite.add(stack_live.STOP_DAEMON, result, detail)
    return suite


def test_processes_killed_at_the_end_turn_a_passing_stop_into_a_failure():
    suite = _suite_with_stop(res.PASS, "stopped")
    stack_live.note_killed(suite, [42], "pid 42 (sleep 9)")
    assert suite.failing() == [stack_live.STOP_DAEMON]
    assert "pid 42 (sleep 9)" in suite.get(stack_live.STOP_DAEMON).detail


@pytest.mark.parametrize("result", [res.SKIP, res.FAIL])
def test_processes_killed_at_the_end_are_named_on_a_stop_that_did_not_pass(result):
    suite = _suite_with_stop(result, "why")
    stack_live.note_killed(suite, [42], "pid 42 (sleep 9)")
    found = suite.get(stack_live.STOP_DAEMON)
    assert (found.result, found.detail.split("; ")[0]) == (result, "why")
    assert "killed" in found.detail and "pid 42 (sleep 9)" in found.detail


def test_nothing_killed_at_the_end_leaves_the_stop_verdict_alone():
    suite = _suite_with_stop(res.PASS, "stopped")
    stack_live.note_killed(suite, [], "")
    assert (suite.get(stack_live.STOP_DAEMON).result, suite.get(stack_live.STOP_DAEMON).detail) == (res.PASS, "stopped")
