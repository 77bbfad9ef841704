"""The kit's check verdicts on plain data: driver-info members, bad-input answers, stack statics."""

import os
import xmlrpc.client

import pytest

from sm_clusterstack import runner, stacks
from sm_clusterstack.kit import driver_badinput, driver_pool, driver_static, stack_static
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


@pytest.mark.parametrize("value", [["../corosync"], ["corosync", "corosync"], "corosync", [3], [""]])
def test_required_cluster_stack_invalid_fails(value):
    assert _stack_verdict(_info(required_cluster_stack=value))[0] == res.FAIL


def test_required_cluster_stack_missing_is_a_warning_as_xapi_takes_it_as_empty():
    """ocaml/xapi/sm_exec.ml: stock xapi records [] for every SMAPIv1 driver; sm's SRCommand cannot declare it."""
    verdict = _stack_verdict(_info(required_cluster_stack=None))
    assert verdict[0] == res.WARN and "SRCommand" in verdict[1] and "fixed list of keys" in verdict[1]
    suite = res.Suite("driver", "x", "/x")
    suite.add(driver_static.REQUIRED_CLUSTER_STACK, *verdict)
    assert res.exit_code([suite]) == res.EXIT_OK and suite.failing() == []


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
    names = [case.name for case in driver_badinput.cases(["device", "path"])]
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


@pytest.mark.parametrize("faults,says", [
    ([("38", "not implemented")] * 5, "same fault 38"),
    ([("1200", "No XML def file found (/usr/share/sm/XE_SR_ERRORCODES.xml)"), ("9", "bad request")],
     "cannot build its errors"),
    ([("600", "no argument"), ("600", "not XML"), ("601", "device missing")], ""),
    ([("600", "one")], ""),
])
def test_bad_input_faults_that_say_nothing_about_the_call_fail(faults, says):
    found = driver_badinput.meaningless(faults)
    assert (says in found) if says else found == ""


@pytest.mark.parametrize("outcome,kind", [
    (None, driver_pool.ATTACHED),
    (("INCOMPATIBLE_CLUSTER_STACK_ACTIVE", ["corosync"]), driver_pool.REFUSAL),
    (("SR_OPERATION_NOT_SUPPORTED", ["OpaqueRef:x"]), driver_pool.NOT_IMPLEMENTED),
    (("SR_BACKEND_FAILURE_1200", ["", "No XML def file found (x)", ""]), driver_pool.NO_ERRORS),
    (("SR_BACKEND_FAILURE_1200", ["", "[Errno 2] No such file or directory", ""]), driver_pool.GENERAL),
    (("SR_BACKEND_FAILURE", ["driver timed out", "", ""]), driver_pool.GENERAL),
    (("ConnectionRefusedError", ["[Errno 111]"]), driver_pool.GENERAL),
    (("SR_BACKEND_FAILURE_607", ["", "The SR is not available", ""]), driver_pool.STORAGE),
])
def test_attach_outcomes_are_classified(outcome, kind):
    assert driver_pool.classify(outcome) == kind


@pytest.mark.parametrize("kinds,constrained,refuses,verdict", [
    ({driver_pool.ATTACHED}, True, False, res.PASS),
    ({driver_pool.STORAGE}, True, True, res.PASS),
    ({driver_pool.STORAGE}, False, False, res.PASS),
    ({driver_pool.STORAGE}, True, False, res.SKIP),  # the same storage fault whatever the stack: not observed
    ({driver_pool.GENERAL, driver_pool.ATTACHED}, True, True, res.SKIP),
    ({driver_pool.NOT_IMPLEMENTED}, False, False, res.FAIL),
    ({driver_pool.NO_ERRORS}, False, False, res.FAIL),
    ({driver_pool.REFUSAL, driver_pool.ATTACHED}, True, True, res.FAIL),
])
def test_attach_compatible_passes_only_what_it_observed(kinds, constrained, refuses, verdict):
    seen = set(("xhad", kind) for kind in kinds)
    assert driver_pool._compatible_verdict(seen, "detail", constrained, refuses)[0] == verdict


@pytest.mark.parametrize("returncode,passes", [(14, True), (1, False), (0, False), (2, False), (None, False)])
def test_a_stopped_daemons_query_must_exit_14_in_both_stack_checks(returncode, passes):
    """One rule for stack.no-daemon-exit and stack.stop-daemon: ha_query_liveset with no daemon exits 14.

    xenserver/xha ``commands/calldaemon.c`` ``main``: a failed connect to the daemon is
    MTC_ERROR_SC_CONNECT_TO_DAEMON, whose exit is 14 (``include/mtcerrno.def``); xapi's
    ``ocaml/xapi/xha_scripts.ml`` ``can_unplug_statefile_pbd`` takes only ``Mtc_exit_daemon_is_not_present``
    as "HA daemon not running: safe to unplug statefile PBD" (any other exit: not safe).
    """
    from sm_clusterstack.kit import stack_probe
    result = runner.Result(["ha_query_liveset"], returncode, "", "no daemon", returncode is None)
    if passes:
        stack_probe.expect_no_daemon(result, "h1 ha_query_liveset after ha_stop_daemon")
        return
    with pytest.raises(stack_probe.Fail) as failed:
        stack_probe.expect_no_daemon(result, "h1 ha_query_liveset after ha_stop_daemon")
    assert "expected 14 DAEMON_IS_NOT_PRESENT" in str(failed.value)
    assert "can_unplug_statefile_pbd" in str(failed.value)


def test_a_fault_the_drivers_error_table_does_not_name_is_not_a_storage_fault(tmp_path):
    (tmp_path / "XE_SR_ERRORCODES.xml").write_text(
        "<SM-errorcodes><code><name>SRUnavailable</name><description>d</description><value>47</value></code>"
        "</SM-errorcodes>")
    (tmp_path / "VendorSR").write_text("#!/bin/sh\n")
    table = driver_pool.error_table(str(tmp_path / "VendorSR"))
    assert table.path == str(tmp_path / "XE_SR_ERRORCODES.xml")
    assert driver_pool.classify(("SR_BACKEND_FAILURE_47", ["", "x", ""]), table) == driver_pool.STORAGE
    assert driver_pool.classify(("SR_BACKEND_FAILURE_1", ["", "x", ""]), table) == driver_pool.UNNAMED
    assert driver_pool.classify(("SR_DEVICE_IN_USE", []), table) == driver_pool.STORAGE  # a code xapi names
    seen = {("xhad", driver_pool.UNNAMED)}
    assert driver_pool._compatible_verdict(seen, "detail", False, False, table.path)[0] == res.FAIL


def test_without_a_table_beside_it_a_driver_answers_the_projects_codes(tmp_path):
    from sm_clusterstack import errors
    table = driver_pool.error_table(str(tmp_path / "VendorSR"))
    assert table.path == errors.ERROR_TABLE and table.names(602) and not table.names(1)


def test_an_error_table_given_is_the_one_read(tmp_path):
    """kit --error-table: the vendor's table kept elsewhere (a stock host keeps it in the sm install)."""
    given = tmp_path / "codes.xml"
    given.write_text("<SM-errorcodes><code><name>Mine</name><description>d</description><value>1</value></code>"
                     "</SM-errorcodes>")
    table = driver_pool.error_table(str(tmp_path / "VendorSR"), str(given))
    assert table.path == str(given) and table.names(1) and not table.names(602)
    assert driver_pool.error_table(str(tmp_path / "VendorSR"), str(tmp_path / "absent.xml")).codes is None


def test_every_bad_input_case_says_what_it_sends_and_the_rule_it_breaks():
    cases = {case.name: case for case in driver_badinput.cases(["device"])}
    assert all(case.sent and case.rule for case in cases.values())
    assert cases["command-differs"].sent == "sr_attach(command='sr_delete')"
    assert "sm_exec.ml xmlrpc_of_call" in cases["command-differs"].rule
    assert cases["missing-host-ref"].sent == "sr_attach(host_ref=absent)"
    assert cases["huge-value"].sent.endswith("characters))") and len(cases["huge-value"].sent) < 100


def test_device_config_cases_answered_as_the_well_formed_call_did_were_not_reached():
    """The value made no difference to the answer: the driver failed before it read the key."""
    from sm_clusterstack.kit import badinput_cases
    config = badinput_cases.config_cases(["device"])
    runs = driver_badinput._Runs(res.Suite("driver", "X", "/x"), "/x")
    pool_fault = ("1200", "[Errno 2] No such file or directory")
    runs.faults = {case.name: pool_fault for case in config}
    runs.faults["device-option"] = ("602", "device '--help' is not an absolute path")
    assert driver_badinput.unreached(config, runs, ("602", "device '/' is not a block device")) == []
    missed = driver_badinput.unreached(config, runs, pool_fault)
    assert len(missed) == len(config) - 1 and "device-option" not in missed
    assert driver_badinput.unreached(config, runs, driver_badinput.ANSWERED_VALUE) == []
