"""smapi.caller: a driver run as xapi does it, and its answers mapped to XenAPI errors."""

import xmlrpc.client

import pytest

from sm_clusterstack import runner
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import caller

PARAMS = {"host_ref": "OpaqueRef:h", "device_config": {"device": "/dev/sdb"}, "args": ["0"],
          "session_ref": "OpaqueRef:s", "sr_ref": "OpaqueRef:sr", "sr_uuid": "u"}


def answer(value):
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)


def fault(code, reason):
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, reason), methodresponse=True)


def expect_run(fake_runner, stdout="", returncode=0, stderr="", timed_out=False):
    document = caller.build_call("sr_attach", PARAMS)
    fake_runner.expect(["/sm/OCFS2SR", document], returncode=returncode, stdout=stdout, stderr=stderr,
                       timed_out=timed_out, env_items={"ORIGINATOR": "SM", "SM_CLUSTERSTACK_XAPI": "http://p"})


def run(fake_runner):
    return caller.call("/sm/OCFS2SR", "sr_attach", PARAMS, xapi_url="http://p", run=fake_runner)


def test_argv_is_driver_and_the_call_document_xapi_builds(fake_runner):
    expect_run(fake_runner, answer(None))
    assert run(fake_runner) is None
    [(argv, env, timeout)] = fake_runner.calls
    parsed = smapi_call.parse(argv[1].encode("utf-8"))
    assert parsed.command == "sr_attach" and parsed.device_config == {"device": "/dev/sdb"}
    assert parsed.session_ref == "OpaqueRef:s" and parsed.args == ["0"]


def test_value_is_returned(fake_runner):
    expect_run(fake_runner, answer({"params": "/dev/x", "xenstore_data": {}}))
    assert run(fake_runner) == {"params": "/dev/x", "xenstore_data": {}}


@pytest.mark.parametrize("code, description", [
    (603, ["SR_BACKEND_FAILURE_603", "", "mkfs failed", "err\n"]),
    (605, ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync,melio"]),
    (38, ["SR_OPERATION_NOT_SUPPORTED", "OpaqueRef:sr"]),
    (39, ["SR_NOT_EMPTY"]),
    (24, ["VDI_IN_USE", ""]),
    (16, ["SR_DEVICE_IN_USE"]),
    (144, ["VDI_MISSING", "OpaqueRef:sr", ""]),
])
def test_faults_map_to_xenapi_errors(fake_runner, code, description):
    reason = "this SR requires one of [corosync,melio]" if code == 605 else "mkfs failed"
    expect_run(fake_runner, fault(code, reason), stderr="err\n")
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.description == description


def test_non_zero_exit_is_backend_failure_with_output(fake_runner):
    expect_run(fake_runner, "Traceback ...", returncode=1, stderr="boom")
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.description == ["SR_BACKEND_FAILURE", "non-zero exit 1", "Traceback ...", "boom"]


def test_unparseable_output_is_backend_failure(fake_runner):
    expect_run(fake_runner, "<methodResponse><params>")
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.code == "SR_BACKEND_FAILURE" and e.value.params[0].startswith("unparseable output")


def test_timeout_is_backend_failure(fake_runner):
    expect_run(fake_runner, "", returncode=None, timed_out=True)
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.params[0] == "driver timed out"


def test_more_output_than_the_cap_is_backend_failure_naming_the_cap_and_host(fake_runner):
    document = caller.build_call("sr_attach", PARAMS)
    fake_runner.expect(["/sm/OCFS2SR", document], returncode=None, overflow="stdout", where="host-7")
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.code == "SR_BACKEND_FAILURE"
    assert e.value.params[0] == "driver printed more than %d bytes on stdout (the cap) on host host-7" % (
        runner.OUTPUT_CAPS["stdout"])


def test_dtd_in_driver_output_is_refused(fake_runner):
    expect_run(fake_runner, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodResponse/>')
    with pytest.raises(XenAPIError) as e:
        run(fake_runner)
    assert e.value.code == "SR_BACKEND_FAILURE"
