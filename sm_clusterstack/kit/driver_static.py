"""Checks of a driver's ``sr_get_driver_info`` answer, under xapi's rules and this project's.

xapi rejects an answer missing a standard member or with one of the wrong
type (``smapi.driverinfo``).  The project's own member,
``required_cluster_stack``, when present must be an array of valid stack
names; when absent it is WARN: xapi takes it as [] (no constraint), which
may hide a forgotten declaration, and a stock SRCommand driver cannot
declare it through DRIVER_INFO (xapi-project/sm ``libs/sm/core/util.py``
``sr_get_driver_info`` copies a fixed list of keys).
"""

import os
import tempfile
import typing

from sm_clusterstack import constraints
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.kit import result as res
from sm_clusterstack.smapi import caller, driverinfo

EXECUTABLE = "driver.executable"
INFO = "driver.info"
INFO_MEMBER = "driver.info-member"
CONFIGURATION = "driver.configuration"
REQUIRED_CLUSTER_STACK = "driver.required-cluster-stack"
CHECKS = (EXECUTABLE, INFO, INFO_MEMBER, CONFIGURATION, REQUIRED_CLUSTER_STACK)
INFO_TIMEOUT = 30.0  # seconds
MISSING_STACKS = (
    "member required_cluster_stack is missing: xapi takes it as [] (no constraint: the SR may be attached "
    "whatever cluster stack runs). If the SR needs one, declare it; a stock SRCommand driver cannot through "
    "DRIVER_INFO (sm's util.sr_get_driver_info copies a fixed list of keys): answer sr_get_driver_info itself "
    "before SRCommand.run, printing xmlrpc.client.dumps((info,), '', True) of that struct with "
    "required_cluster_stack added, e.g. [\"corosync-ha\"]")


def sr_type(path: str) -> str:
    """The SR type xapi derives from a driver's file name (``OCFS2SR`` -> ``ocfs2``)."""
    name = os.path.basename(path)
    return name[:-2].lower() if name.endswith("SR") else ""


def unreachable_pool() -> str:
    """An SM_CLUSTERSTACK_XAPI address where no pool answers (drivers fail fast, never hang)."""
    return os.path.join(tempfile.gettempdir(), "sm-clusterstack-kit-no-pool-%d.sock" % os.getpid())


def check_executable(path: str) -> typing.Tuple[str, str]:
    """A regular executable file whose name ends in SR, giving a valid SR type."""
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        return res.FAIL, "%s is not an executable file" % path
    kind = sr_type(path)
    if not constraints.is_valid_name(kind):
        return res.FAIL, "%r: xapi runs <Type>SR files only; the type must be a valid name" % os.path.basename(path)
    return res.PASS, "SR type %s" % kind


def get_info(path: str, timeout: float = INFO_TIMEOUT) -> typing.Any:
    """Run ``sr_get_driver_info`` as xapi does; its answer, or XenAPIError."""
    params = {"host_ref": "OpaqueRef:NULL", "args": [], "device_config": {}}
    return caller.call(path, "sr_get_driver_info", params, xapi_url=unreachable_pool(), timeout=timeout)


def _split(found: typing.List[driverinfo.Finding]) -> typing.Dict[str, typing.List[driverinfo.Finding]]:
    groups = {INFO_MEMBER: [], CONFIGURATION: [], REQUIRED_CLUSTER_STACK: []}  # type: dict
    for finding in found:
        if finding.member == "required_cluster_stack":
            groups[REQUIRED_CLUSTER_STACK].append(finding)
        elif finding.member.startswith("configuration"):
            groups[CONFIGURATION].append(finding)
        else:
            groups[INFO_MEMBER].append(finding)
    return groups


def _verdict(found: typing.List[driverinfo.Finding], ok: str) -> typing.Tuple[str, str]:
    errors = driverinfo.errors_of(found)
    if errors:
        return res.FAIL, "; ".join(str(f) for f in errors)
    warnings = [str(f) for f in found]
    return res.PASS, ok + ("" if not warnings else " (%s)" % "; ".join(warnings))


def check_required_cluster_stack(info: dict, found: typing.List[driverinfo.Finding]) -> typing.Tuple[str, str]:
    """Present, an array of valid stack names (no duplicates)."""
    if "required_cluster_stack" not in info:
        return res.WARN, MISSING_STACKS
    if any(f.code == driverinfo.DUPLICATE_STACK for f in found):
        return res.FAIL, "required_cluster_stack lists a stack twice: %r" % (info["required_cluster_stack"],)
    stacks = info["required_cluster_stack"]
    return _verdict(found, ", ".join(str(s) for s in stacks) if stacks else "[] (no constraint)")


def check_configuration(info: dict, found: typing.List[driverinfo.Finding]) -> typing.Tuple[str, str]:
    """Each entry a struct of key and description, keys non-empty and unique."""
    verdict = _verdict(found, "")
    if verdict[0] != res.PASS:
        return verdict
    keys = [entry["key"] for entry in info.get("configuration", [])]
    if any(not k.strip() for k in keys):
        return res.FAIL, "a configuration entry has an empty key"
    if len(set(keys)) != len(keys):
        return res.FAIL, "a configuration key is documented twice: %s" % ", ".join(keys)
    return res.PASS, "device_config keys: %s" % (", ".join(keys) or "none")


def run(suite: res.Suite, path: str, timeout: float = INFO_TIMEOUT) -> typing.Tuple[typing.Optional[dict], bool]:
    """Record the driver-info checks; return the answer (a struct, or None) and whether all passed."""
    suite.mark()
    verdict = check_executable(path)
    suite.add(EXECUTABLE, *verdict)
    if verdict[0] != res.PASS:
        for check in CHECKS[1:]:
            suite.add(check, res.SKIP, "not run: %s failed" % EXECUTABLE)
        return None, False
    try:
        info = get_info(path, timeout)
    except XenAPIError as e:
        suite.add(INFO, res.FAIL, "sr_get_driver_info failed: %s" % " ".join(e.description)[:600])
        for check in CHECKS[2:]:
            suite.add(check, res.SKIP, "not run: %s failed" % INFO)
        return None, False
    suite.add(INFO, res.PASS, "answered a %s" % ("struct" if isinstance(info, dict) else type(info).__name__))
    found = driverinfo.findings(info)
    if not isinstance(info, dict):
        suite.add(INFO_MEMBER, res.FAIL, "; ".join(str(f) for f in found))
        for check in CHECKS[3:]:
            suite.add(check, res.SKIP, "not run: the answer is not a struct")
        return None, False
    groups = _split(found)
    suite.add(INFO_MEMBER, *_verdict(groups[INFO_MEMBER], "every standard member present, of the right type"))
    suite.add(CONFIGURATION, *check_configuration(info, groups[CONFIGURATION]))
    suite.add(REQUIRED_CLUSTER_STACK, *check_required_cluster_stack(info, groups[REQUIRED_CLUSTER_STACK]))
    return info, all(r.result in (res.PASS, res.WARN) for r in suite.results[-3:])
