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

Each case says what it sends and the rule it breaks (``badinput_cases``); a
failure shows both.  The structural cases run on this machine against a
pool that does not answer.  The device_config cases only tell something
when the driver reaches the key, so they go through a ``Reach``: on the
kit's embedded pool, as xapi calls a driver (its session, the host, an SR
of the driver's type), else as the structural ones.  Each is compared with
a well-formed ``sr_attach`` sent the same way (the control): a case answered
exactly as the control was never reached (the driver failed before reading
the key, e.g. at its session), and the check is SKIP saying so, never PASS.
A malformed call the driver attached is detached again.
"""

import concurrent.futures
import typing
import xmlrpc.client

from sm_clusterstack import runner, xmlrpc_safe
from sm_clusterstack.kit import badinput_cases as family
from sm_clusterstack.kit import result as res
from sm_clusterstack.smapi import caller

BAD_INPUT = "driver.bad-input"
CASE_TIMEOUT = 30.0  # seconds per malformed call
SHOWN = 6  # failing cases named in the detail
MAX_TIMEOUTS = 3  # hung calls after which the kit stops trying more cases
PARALLEL = 8  # malformed calls run at once (each is its own process)
cases = family.cases


class Reach(object):
    """How the device_config cases reach a driver as xapi calls it: on the pool's host, a real session and SR."""

    def __init__(self, run: typing.Callable[[typing.List[str], float], runner.Result],
                 members: typing.Dict[str, str], config: typing.Dict[str, str], where: str) -> None:
        self.run = run  # (argv after the driver, timeout) -> its Result
        self.members = dict(members)  # host_ref, session_ref, sr_ref, sr_uuid
        self.config = dict(config)  # a well-formed device_config: the control call's
        self.where = where  # said in the detail


ANSWERED_VALUE = "answered a value, not a fault"
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
    return ANSWERED_VALUE


def static_reach(path: str, xapi_url: str) -> Reach:
    """The driver run on this machine with null refs and ``xapi_url`` (a pool that does not answer)."""
    env = caller.driver_env(xapi_url)
    return Reach(lambda argv, timeout: runner.run([path] + argv, timeout=timeout, env=env), family.NULL_MEMBERS,
                 {}, "without a pool (null session, host and SR; no pool answers)")


class _Runs(object):
    """The answers of a batch of cases, judged: the bad ones (with why), the faults of the others."""

    def __init__(self, suite: res.Suite, path: str) -> None:
        self.suite, self.path = suite, path
        self.bad = []  # type: typing.List[typing.Tuple[family.Case, str]]
        self.faults = {}  # type: typing.Dict[str, typing.Tuple[str, str]]
        self.answers = {}  # type: typing.Dict[str, runner.Result]
        self.hung = 0

    def run(self, batch: typing.List[family.Case], reach: Reach, timeout: float) -> None:
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as workers:
            for start in range(0, len(batch), PARALLEL):
                part = batch[start:start + PARALLEL]
                for case, found in zip(part, workers.map(lambda c: reach.run(c.argv, timeout), part)):
                    self._judge(case, found)
                if self.gave_up:
                    return

    def _judge(self, case: family.Case, found: runner.Result) -> None:
        self.answers[case.name] = found
        why = judge(found)
        if why:
            self.bad.append((case, why))
            self.suite.capture("%s %s  (%s; sent %s)" % (self.path, case.name, why, case.sent), found.stdout,
                               found.stderr)
        else:
            self.faults[case.name] = fault_of(found)
        self.hung += why == "timed out"

    @property
    def gave_up(self) -> bool:
        return self.hung >= MAX_TIMEOUTS


def _shown(bad: typing.List[typing.Tuple[family.Case, str]]) -> str:
    return "; ".join("%s: %s; sent %s; rule: %s" % (case.name, why, case.sent, case.rule)
                     for case, why in bad[:SHOWN])


def unreached(config: typing.List[family.Case], runs: _Runs, control: typing.Any) -> typing.List[str]:
    """The device_config cases answered exactly as the well-formed call was: the value made no difference."""
    return [case.name for case in config if case.name in runs.faults and runs.faults[case.name] == control]


def _control(path: str, reach: Reach, keys: typing.Sequence[str], timeout: float, suite: res.Suite) -> typing.Any:
    """What a well-formed sr_attach sent through ``reach`` got: its fault, or why it was none (detached again)."""
    case = family.control(reach.config or {key: "/" for key in keys[:1]}, reach.members)
    found = reach.run(case.argv, timeout)
    suite.capture("%s well-formed sr_attach %s  (the control call)" % (path, case.sent), found.stdout, found.stderr)
    if judge(found) == ANSWERED_VALUE:
        reach.run(family.undo(case), timeout)
    return fault_of(found) or judge(found)


def run(suite: res.Suite, path: str, config_keys: typing.Sequence[str] = ("device",),
        xapi_url: str = "", timeout: float = CASE_TIMEOUT, reach: typing.Optional[Reach] = None) -> None:
    """Record ``driver.bad-input``: every malformed invocation answered by a fault and exit 0.

    The structural cases run on this machine against a pool that does not
    answer; the device_config cases run through ``reach`` (a call as xapi
    makes it) when given, and are compared with a well-formed call there.
    """
    suite.mark()
    keys = list(config_keys) or ["device"]
    static = static_reach(path, xapi_url)
    reach = reach or static
    runs = _Runs(suite, path)
    structural = family.structural_cases()
    config = family.config_cases(keys, reach.members)
    runs.run(structural, static, timeout)
    if not runs.gave_up:
        runs.run(config, reach, timeout)
        for case in config:  # a malformed call the driver attached: detached again
            if runs.answers.get(case.name) is not None and judge(runs.answers[case.name]) == ANSWERED_VALUE:
                reach.run(family.undo(case), timeout)
    control = None if runs.bad else _control(path, reach, keys, timeout, suite)
    suite.add(BAD_INPUT, *_verdict(runs, structural + config, config, reach, control, timeout))


def _verdict(runs: _Runs, everything: typing.List[family.Case], config: typing.List[family.Case], reach: Reach,
             control: typing.Any, timeout: float) -> typing.Tuple[str, str]:
    if runs.bad:
        more = " (and %d more)" % (len(runs.bad) - SHOWN) if len(runs.bad) > SHOWN else ""
        gave_up = "; gave up after %d calls timed out (%gs each)" % (runs.hung, timeout) if runs.gave_up else ""
        return res.FAIL, "%d of %d malformed calls not answered with a fault: %s%s%s" % (
            len(runs.bad), len(everything), _shown(runs.bad), more, gave_up)
    faults = list(runs.faults.values())
    if meaningless(faults):
        return res.FAIL, meaningless(faults)
    missed = unreached(config, runs, control)
    if missed:
        return res.SKIP, (
            "could not reach device_config %s: %d of %d device_config cases (%s) got the answer a well-formed "
            "sr_attach got (%s), so the driver failed before it read the key; the %d other malformed calls were "
            "answered with a fault%s" % (
                reach.where, len(missed), len(config), ", ".join(missed[:SHOWN]), _answer(control),
                len(everything) - len(config),
                "" if reach.members != family.NULL_MEMBERS else ". Only calls made as xapi makes them reach it: the "
                "kit sends them on its embedded pool (a session, the host, an SR) when it runs live (not --static) "
                "and the pool starts"))
    return res.PASS, "all %d malformed calls answered with a fault, exit 0 (%d different faults; device_config " \
        "cases %s)" % (len(everything), len(set(faults)), reach.where)


def _answer(control: typing.Any) -> str:
    if isinstance(control, tuple):
        return "fault %s %s" % (control[0], family.short(control[1]))
    return control
