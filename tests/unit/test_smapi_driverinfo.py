"""The driver-info model: each known-bad answer is caught with its code; the shipped drivers pass."""

import importlib.machinery
import importlib.util
import os

import pytest

from sm_clusterstack.smapi import driverinfo

DRIVERS = os.path.join(os.path.dirname(__file__), "..", "..", "drivers")
GOOD = {
    "name": "X", "description": "d", "vendor": "v", "copyright": "c", "driver_version": "1",
    "required_api_version": "1.0", "capabilities": ["SR_PROBE", "VDI_CREATE"],
    "configuration": [{"key": "device", "description": "the device"}],
    "required_cluster_stack": ["corosync"],
}


def load_driver(name):
    loader = importlib.machinery.SourceFileLoader("driver_" + name, os.path.join(DRIVERS, name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def with_(**changes):
    info = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            del info[key]
        else:
            info[key] = value
    return info


def codes(info):
    return [(f.code, f.member) for f in driverinfo.findings(info)]


def test_good_answer_has_no_findings():
    assert codes(GOOD) == []
    assert driverinfo.parse(GOOD).required_cluster_stack == ["corosync"]


@pytest.mark.parametrize("info,expected", [
    ([], [("NOT_A_STRUCT", "")]),
    (with_(vendor=None), [("MISSING_MEMBER", "vendor")]),
    (with_(driver_version=1), [("WRONG_TYPE", "driver_version")]),
    (with_(capabilities=None), [("MISSING_MEMBER", "capabilities")]),
    (with_(capabilities="SR_PROBE"), [("WRONG_TYPE", "capabilities")]),
    (with_(configuration=None), [("MISSING_MEMBER", "configuration")]),
    (with_(configuration={"key": "device"}), [("WRONG_TYPE", "configuration")]),
    (with_(configuration=[{"key": "device"}]), [("BAD_CONFIGURATION_ENTRY", "configuration[0]")]),
    (with_(required_cluster_stack="corosync"), [("WRONG_TYPE", "required_cluster_stack")]),
    (with_(required_cluster_stack=["../etc"]), [("INVALID_STACK_NAME", "required_cluster_stack")]),
    (with_(required_cluster_stack=[""]), [("INVALID_STACK_NAME", "required_cluster_stack")]),
])
def test_each_error_is_found_with_its_code(info, expected):
    assert codes(info) == expected
    with pytest.raises(driverinfo.DriverInfoError) as raised:
        driverinfo.parse(info)
    assert [(f.code, f.member) for f in raised.value.findings] == expected


@pytest.mark.parametrize("info,expected", [
    (with_(required_cluster_stack=None), ("NO_REQUIRED_CLUSTER_STACK", "required_cluster_stack")),
    (with_(capabilities=["SR_FLY"]), ("UNKNOWN_CAPABILITY", "capabilities")),
    (with_(required_cluster_stack=["a", "a"]), ("DUPLICATE_STACK", "required_cluster_stack")),
])
def test_warnings_do_not_reject_the_driver(info, expected):
    assert codes(info) == [expected]
    assert driverinfo.parse(info).name == "X"


def test_a_driver_without_required_cluster_stack_requires_none():
    assert driverinfo.parse(with_(required_cluster_stack=None)).required_cluster_stack == []


def test_the_capabilities_that_let_an_sr_hold_a_statefile_are_known():
    """xen-api ``ocaml/xapi/xha_statefile.ml`` ``check_sr_can_host_statefile`` looks for either
    (``ocaml/xapi/smint.ml`` ``string_to_capability_table`` knows both)."""
    assert codes(with_(capabilities=["VDI_GENERATE_CONFIG", "VDI_ATTACH_OFFLINE"])) == []


def test_versioned_capabilities_are_known():
    assert codes(with_(capabilities=["VDI_CREATE/1", "SR_PROBE:2"])) == []


@pytest.mark.parametrize("name,stacks", [("OCFS2SR", ["corosync-ha"]), ("MelioSR", ["melio"]), ("LVMSR", [])])
def test_shipped_drivers_pass_and_document_their_keys(name, stacks):
    module = load_driver(name)
    info = dict(module.DRIVER_INFO)
    plain = {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.items()}
    plain["configuration"] = [dict(entry) for entry in info["configuration"]]
    assert driverinfo.findings(plain) == []
    parsed = driverinfo.parse(plain)
    assert parsed.required_cluster_stack == stacks
    assert "device" in parsed.configuration_keys()


def test_driver_info_is_immutable():
    info = load_driver("OCFS2SR").DRIVER_INFO
    with pytest.raises(TypeError):
        info["required_cluster_stack"] = []
    with pytest.raises(AttributeError):
        info["capabilities"].append("VDI_CLONE")
