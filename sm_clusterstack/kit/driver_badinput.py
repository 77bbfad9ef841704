"""Malformed SMAPIv1 invocations a driver must answer with a fault, exit 0, no traceback.

The family is the driver issue's: no argument, two, not XML, XML bombs,
wrong shapes and types, missing members, unknown command, path-like and
oversized device_config values.  xapi reads anything else (a traceback, a
non-zero exit, unparseable output) as a broken driver.

A fault is not enough when it says nothing about the call: the same fault
to every malformed call (a driver that answers without reading its input,
e.g. "not implemented" to everything) fails, and so does a fault saying the
driver could not build its error (xapi-project/sm's ``XenError`` raising
"No XML def file found" when XE_SR_ERRORCODES.xml is missing: every error
the driver means to report becomes that one).
"""

import concurrent.futures
import typing
import xmlrpc.client

from sm_clusterstack import runner, xmlrpc_safe
from sm_clusterstack.kit import result as res
from sm_clusterstack.smapi import call as call_model
from sm_clusterstack.smapi import caller

BAD_INPUT = "driver.bad-input"
CASE_TIMEOUT = 30.0  # seconds per malformed call
SHOWN = 6  # failing cases named in the detail
MAX_TIMEOUTS = 3  # hung calls after which the kit stops trying more cases
PARALLEL = 8  # malformed calls run at once (each is its own process)

_BOMB = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
         '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
         '<methodCall><methodName>&d;</methodName><params/></methodCall>')
_XXE = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<methodCall><methodName>sr_attach</methodName><params><param><value>&x;</value></param>'
        '</params></methodCall>')


def _good(command: str = "sr_attach", **changes: typing.Any) -> typing.Dict[str, typing.Any]:
    struct = {"host_ref": "OpaqueRef:NULL", "command": command, "args": [], "device_config": {},
              "session_ref": "OpaqueRef:NULL", "sr_ref": "OpaqueRef:NULL",
              "sr_uuid": "00000000-0000-0000-0000-000000000000"}
    struct.update(changes)
    return {k: v for k, v in struct.items() if v is not None}


def _doc(struct: typing.Any, method: str = "sr_attach") -> str:
    return xmlrpc.client.dumps((struct,), methodname=method, allow_none=True)


def cases(config_keys: typing.Sequence[str] = ("device",)) -> typing.List[typing.Tuple[str, typing.List[str]]]:
    """(name, argv after the driver) of every malformed invocation."""
    keys = list(config_keys) or ["device"]
    valid = call_model.Call("sr_attach", device_config={}).to_xml()
    found = [
        ("no-argument", []),
        ("two-arguments", [valid, valid]),
        ("empty", [""]),
        ("not-xml", ["this is not XML"]),
        ("truncated", [valid[:len(valid) // 2]]),
        ("xml-bomb", [_BOMB]),
        ("external-entity", [_XXE]),
        ("control-character", [valid.replace("sr_attach", "sr_\x01attach", 1)]),
        ("method-response", [xmlrpc.client.dumps(({},), methodresponse=True)]),
        ("no-params", ["<methodCall><methodName>sr_attach</methodName><params/></methodCall>"]),
        ("param-not-struct", [_doc("sr_attach")]),
        ("two-params", [xmlrpc.client.dumps((_good(), _good()), methodname="sr_attach")]),
        ("missing-command", [_doc(_good(command=None))]),
        ("missing-device-config", [_doc(_good(device_config=None))]),
        ("missing-host-ref", [_doc(_good(host_ref=None))]),
        ("args-not-array", [_doc(_good(args="100"))]),
        ("device-config-not-struct", [_doc(_good(device_config=["a"]))]),
        ("device-config-int-value", [_doc(_good(device_config={keys[0]: 7}))]),
        ("session-ref-int", [_doc(_good(session_ref=3))]),
        ("unknown-command", [_doc(_good(command="sr_frobnicate"), "sr_frobnicate")]),
        ("command-differs", [_doc(_good(command="sr_delete"))]),
        ("nested-too-deep", [_doc(_good(device_config={keys[0]: [[[[[[[[[["x"]]]]]]]]]]}))]),
        ("huge-value", [_doc(_good(device_config={keys[0]: "x" * 100000}))]),
        ("sr-create-size-not-number", [_doc(_good("sr_create", args=["many"]), "sr_create")]),
    ]
    for key in keys:
        for label, value in (("path-traversal", "../../../../etc/passwd"), ("option", "--help"),
                             ("newline", "/dev/null\n--force"), ("empty", "")):
            found.append(("%s-%s" % (key, label), [_doc(_good(device_config={key: value}))]))
    return found


NO_ERROR_TABLE = "No XML def file"  # xapi-project/sm libs/sm/core/xs_errors.py XenError.__new__


def fault_of(result: runner.Result) -> typing.Optional[typing.Tuple[str, str]]:
    """The (code, reason) a clean fault answer carries; None when it is not one."""
    try:
        xmlrpc_safe.loads(result.stdout.encode("utf-8"))
    except xmlrpc.client.Fault as fault:
        return str(fault.faultCode), " ".join(str(fault.faultString).split())
    except xmlrpc_safe.XMLRPCFormatError:
        return None
    return None


def meaningless(faults: typing.List[typing.Tuple[str, str]]) -> str:
    """Why these faults (one per malformed call) say nothing about the calls; "" when they do."""
    broken = [f for f in faults if NO_ERROR_TABLE in f[1]]
    if broken:
        return ("the driver cannot build its errors: %d of %d faults are %s %r (sm's XenError finds no "
                "XE_SR_ERRORCODES.xml, so every error it means to report becomes this one)"
                % (len(broken), len(faults), broken[0][0], broken[0][1][:120]))
    if len(faults) > 1 and len(set(faults)) == 1:
        return ("every one of the %d malformed calls got the same fault %s %r: the driver answers without "
                "reading its call" % (len(faults), faults[0][0], faults[0][1][:120]))
    return ""


def judge(result: runner.Result) -> str:
    """Why ``result`` is not a clean fault answer; "" when it is one."""
    if result.timed_out:
        return "timed out"
    if result.overflow:
        return "more output on %s than the cap" % result.overflow
    if "Traceback (most recent call last)" in result.stdout + result.stderr:
        return "traceback (exit %s)" % result.returncode
    if result.returncode != 0:
        return "exit %s" % result.returncode
    try:
        xmlrpc_safe.loads(result.stdout.encode("utf-8"))
    except xmlrpc.client.Fault:
        return ""
    except xmlrpc_safe.XMLRPCFormatError as e:
        return "stdout is not an XML-RPC response: %s" % str(e)[:80]
    return "answered a value, not a fault"


def run(suite: res.Suite, path: str, config_keys: typing.Sequence[str] = ("device",),
        xapi_url: str = "", timeout: float = CASE_TIMEOUT) -> None:
    """Record ``driver.bad-input``: every malformed invocation answered by a fault and exit 0."""
    suite.mark()
    env = caller.driver_env(xapi_url)
    bad, faults = [], []
    all_cases = cases(config_keys)
    hung, gave_up = 0, ""
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as workers:
        for start in range(0, len(all_cases), PARALLEL):
            batch = all_cases[start:start + PARALLEL]
            runs = list(workers.map(lambda case: runner.run([path] + case[1], timeout=timeout, env=env), batch))
            for (name, _), found in zip(batch, runs):
                why = judge(found)
                if why:
                    bad.append("%s: %s" % (name, why))
                    suite.capture("%s %s  (%s)" % (path, name, why), found.stdout, found.stderr)
                else:
                    faults.append(fault_of(found))
                hung += why == "timed out"
            if hung >= MAX_TIMEOUTS:
                gave_up = "; gave up after %d calls timed out (%gs each)" % (hung, timeout)
                break
    if bad:
        more = " (and %d more)" % (len(bad) - SHOWN) if len(bad) > SHOWN else ""
        suite.add(BAD_INPUT, res.FAIL, "%d of %d malformed calls not answered with a fault: %s%s%s" % (
            len(bad), len(all_cases), "; ".join(bad[:SHOWN]), more, gave_up))
    elif meaningless(faults):
        suite.add(BAD_INPUT, res.FAIL, meaningless(faults))
    else:
        suite.add(BAD_INPUT, res.PASS, "all %d malformed calls answered with a fault, exit 0 (%d different faults)"
                  % (len(all_cases), len(set(faults))))
