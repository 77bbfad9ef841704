"""Behaviour checks of a cluster stack, run in a sandbox in the order xapi uses the scripts.

Sequence: with no daemon (query 14, stop 0), a bad argument (1), pool
state init and a second change, start, liveset (schema, model, local host
live), propose_master (TRUE: the sandbox's pool is this one live host,
quorate), set/clear excluded, init refused while running, disarm fencing,
stop (then query 14 and, within a short grace, no process of the sandbox
left), then that the fence action never ran (the sandbox's
SM_CLUSTERSTACK_FENCE_ACTION only touches a file).  See stack_probe for
timeouts and engine absence.
"""

import os
import typing

from sm_clusterstack.kit import liveset_schema
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit.sandbox import FENCE_ACTION, StackSandbox, describe_pids
from sm_clusterstack.kit.stack_probe import (
    ENGINE_ABSENT_AGAIN, SCRIPT_TIMEOUT, START_TIMEOUT, Fail, Skip, StackProbe, code, expect)
from sm_clusterstack.stacks import liveset, mtc
from sm_clusterstack.xmlsafe import XMLFormatError

NO_DAEMON_EXIT = "stack.no-daemon-exit"
BAD_ARGUMENT = "stack.bad-argument"
POOL_STATE = "stack.pool-state"
START_DAEMON = "stack.start-daemon"
LIVESET_SCHEMA = "stack.liveset-schema"
LIVESET_LOCALHOST = "stack.liveset-localhost"
PROPOSE_MASTER = "stack.propose-master"
EXCLUDED = "stack.excluded-roundtrip"
POOL_STATE_RUNNING = "stack.pool-state-running"
DISARM_FENCING = "stack.disarm-fencing"
STOP_DAEMON = "stack.stop-daemon"
NO_FENCE = "stack.no-fence"
TIMEOUT = "stack.timeout"
STOP_GRACE = 5.0  # seconds the processes of a stopped daemon may take to exit


def no_daemon_exit(p: StackProbe) -> str:
    """With no daemon: ha_stop_daemon exits 0, ha_query_liveset exits 14."""
    stop = p.call("ha_stop_daemon")
    query = p.call("ha_query_liveset")
    p.no_daemon_code = query.returncode
    expect(stop, mtc.SUCCESS, "ha_stop_daemon with no daemon")
    expect(query, mtc.DAEMON_IS_NOT_PRESENT, "ha_query_liveset with no daemon")
    return "ha_stop_daemon exits 0, ha_query_liveset exits 14 DAEMON_IS_NOT_PRESENT"


def bad_argument(p: StackProbe) -> str:
    """ha_set_pool_state with an unknown state, or none, exits 1."""
    for args in (["not-a-state"] + p.sandbox.config_args(), []):
        result = p.call("ha_set_pool_state", args)
        expect(result, mtc.INVALID_PARAMETER, "ha_set_pool_state %s" % " ".join(args or ["(no argument)"]))
    return "ha_set_pool_state with a bad or no state exits 1 INVALID_PARAMETER"


def pool_state(p: StackProbe) -> str:
    """With no daemon, init succeeds and the state can be changed again (invalid, init)."""
    for state in ("init", "invalid", "init"):
        result = p.call("ha_set_pool_state", [state] + p.sandbox.config_args())
        expect(result, mtc.SUCCESS, "ha_set_pool_state %s" % state)
    return "init, invalid, init all exit 0 with no daemon"


def start_daemon(p: StackProbe) -> str:
    """ha_start_daemon -C exits 0."""
    p.daemon_may_run = True
    result = p.call("ha_start_daemon", p.sandbox.config_args(), timeout=p.start_timeout)
    expect(result, mtc.SUCCESS, "ha_start_daemon")
    p.started = True
    where = p.sandbox.netns and " (in network namespace %s)" % p.sandbox.netns
    return "ha_start_daemon exits 0" + (where or " (in the host's network namespace)")


def liveset_valid(p: StackProbe) -> str:
    """ha_query_liveset prints XML valid against the kit's schema and accepted by the liveset model."""
    p.need_daemon()
    out = p.query().stdout
    problems = ["schema: %s" % p for p in liveset_schema.problems(out)]
    try:
        parsed = liveset.parse(out)
    except XMLFormatError as e:
        problems.append("xapi's rules: %s" % e)
    else:
        p.liveset = parsed
    if problems:
        raise Fail("; ".join(problems[:3]))
    return "valid against liveset.rng and accepted as xapi reads it (status %s)" % parsed.status


def liveset_localhost(p: StackProbe) -> str:
    """The liveset names the sandbox's host as localhost, and that host as live."""
    p.need_daemon()
    if p.liveset is None:
        raise Skip("needs a valid liveset (see %s)" % LIVESET_SCHEMA)
    if p.liveset.localhost.lower() != p.sandbox.host_id:
        raise Fail("localhost is %s, the config's local HostID is %s" % (p.liveset.localhost, p.sandbox.host_id))
    try:
        local = p.liveset.host(p.sandbox.host_id)
    except KeyError:
        raise Fail("no <host> entry for the local host %s" % p.sandbox.host_id)
    if not local.liveness or p.liveset.status == "Offline":
        raise Fail("local host liveness %s, status %s after ha_start_daemon" % (local.liveness, p.liveset.status))
    return "local host %s live, status %s" % (p.sandbox.host_id, p.liveset.status)


def propose_master(p: StackProbe) -> str:
    """ha_propose_master exits 0 and prints TRUE: the sandbox's pool is this one live host, so it is quorate."""
    p.need_daemon()
    result = p.call("ha_propose_master")
    expect(result, mtc.SUCCESS, "ha_propose_master")
    answer = result.stdout.strip()
    if answer == "FALSE":
        raise Fail("ha_propose_master printed FALSE on the only host of a quorate one-host pool: "
                   "xapi would never get a master")
    if answer != "TRUE":
        raise Fail("ha_propose_master printed %r, not TRUE or FALSE" % answer[:80])
    return "printed TRUE (the only host of a quorate one-host pool)"


def _excluded_flag(p: StackProbe, checked: bool) -> typing.Optional[bool]:
    if not checked:
        return None
    out = p.query().stdout
    try:
        return liveset.parse(out).host(p.sandbox.host_id).excluded
    except (XMLFormatError, KeyError):
        raise Fail("ha_query_liveset's output stopped naming the local host during the round trip")


def excluded_roundtrip(p: StackProbe) -> str:
    """ha_set_excluded then ha_clear_excluded exit 0 and the liveset's excluded flag follows."""
    p.need_daemon()
    checked = p.liveset is not None and any(h.host_id.lower() == p.sandbox.host_id for h in p.liveset.hosts)
    seen = []
    for script, want in (("ha_set_excluded", True), ("ha_clear_excluded", False)):
        expect(p.call(script, p.sandbox.config_args()), mtc.SUCCESS, script)
        flag = _excluded_flag(p, checked)
        if checked and flag is not want:
            raise Fail("after %s the local host's excluded is %s, expected %s" % (script, flag, want))
        seen.append(str(flag).upper())
    if not checked:
        return "both exit 0 (the excluded flag was not read: no valid liveset, see %s)" % LIVESET_SCHEMA
    return "both exit 0; excluded went %s then %s" % tuple(seen)


def pool_state_running(p: StackProbe) -> str:
    """ha_set_pool_state init is refused while the daemon runs ("init only when no daemon runs")."""
    p.need_daemon()
    result = p.call("ha_set_pool_state", ["init"] + p.sandbox.config_args())
    if result.returncode == mtc.SUCCESS:
        raise Fail("ha_set_pool_state init exited 0 while the daemon runs; init is only for a stopped pool")
    return "refused with %s" % code(result)


def disarm_fencing(p: StackProbe) -> str:
    """ha_disarm_fencing exits 0 while the daemon runs."""
    p.need_daemon()
    expect(p.call("ha_disarm_fencing"), mtc.SUCCESS, "ha_disarm_fencing")
    return "exits 0"


def stop_daemon(p: StackProbe) -> str:
    """ha_stop_daemon exits 0, after which ha_query_liveset says no daemon (14) and no process is left."""
    p.need_daemon()
    expect(p.call("ha_stop_daemon", timeout=p.start_timeout), mtc.SUCCESS, "ha_stop_daemon")
    p.stopped = True
    verdict = _query_after_stop(p)
    left = p.left_after_stop = p.sandbox.wait_leftovers(STOP_GRACE)
    if left:
        raise Fail("ha_stop_daemon exited 0 but left running, %gs later: %s" % (STOP_GRACE, describe_pids(left)))
    return verdict + "; no process left"


def _query_after_stop(p: StackProbe) -> str:
    query = p.call("ha_query_liveset")
    if query.returncode == mtc.DAEMON_IS_NOT_PRESENT:
        return "stopped; ha_query_liveset then exits 14"
    if query.returncode == mtc.SUCCESS:
        raise Fail("ha_query_liveset still exits 0 after ha_stop_daemon: the daemon did not stop")
    if query.returncode == p.no_daemon_code:
        return "stopped; ha_query_liveset exits %s as with no daemon (see %s)" % (code(query), NO_DAEMON_EXIT)
    expect(query, mtc.DAEMON_IS_NOT_PRESENT, "ha_query_liveset after ha_stop_daemon")
    return ""


def no_fence(p: StackProbe, absent: str) -> typing.Tuple[str, str]:
    """The stack never ran its fence action during the checks (including the kit's final stop)."""
    if p.sandbox.fenced():
        return res.FAIL, ("the stack ran its fence action (%s) during the checks; on a host that is a reboot"
                          % FENCE_ACTION)
    if absent:
        return res.SKIP, ENGINE_ABSENT_AGAIN
    return res.PASS, "the fence action was never run"


def timeouts(p: StackProbe, absent: str) -> typing.Tuple[str, str]:
    """No script had to be killed at its timeout."""
    if p.timeouts:
        return res.FAIL, "killed at the timeout: %s" % ", ".join(p.timeouts)
    if absent:
        return res.SKIP, ENGINE_ABSENT_AGAIN
    return res.PASS, "every script exited within its timeout"


CHECKS = (
    (NO_DAEMON_EXIT, no_daemon_exit),
    (BAD_ARGUMENT, bad_argument),
    (POOL_STATE, pool_state),
    (START_DAEMON, start_daemon),
    (LIVESET_SCHEMA, liveset_valid),
    (LIVESET_LOCALHOST, liveset_localhost),
    (PROPOSE_MASTER, propose_master),
    (EXCLUDED, excluded_roundtrip),
    (POOL_STATE_RUNNING, pool_state_running),
    (DISARM_FENCING, disarm_fencing),
    (STOP_DAEMON, stop_daemon),
)
IDS = tuple(check for check, _ in CHECKS) + (NO_FENCE, TIMEOUT)


def _record(suite: res.Suite, check: str, func: typing.Callable[[StackProbe], str], probe: StackProbe) -> None:
    suite.mark()
    try:
        suite.add(check, res.PASS, func(probe))
    except Skip as e:
        suite.add(check, res.SKIP, str(e))
    except Fail as e:
        suite.add(check, res.FAIL, str(e))
    except Exception as e:  # a bug of the kit: report it, keep checking
        suite.add(check, res.ERROR, "kit error: %s: %s" % (type(e).__name__, e))


def _skip_all(suite: res.Suite, reason: str) -> None:
    for check in IDS:
        suite.add(check, res.SKIP, reason)


def run(suite: res.Suite, path: str, timeout: float = SCRIPT_TIMEOUT, start_timeout: float = START_TIMEOUT,
        owner_uid: int = 0, unsafe: bool = False,
        extra_env: typing.Optional[typing.Dict[str, str]] = None,
        sandbox_parent: typing.Optional[str] = None, isolate: bool = True) -> None:
    """Record the behaviour checks of the stack at ``path`` in ``suite``."""
    if unsafe:
        _skip_all(suite, "not run: the stack is unsafe (see stack.unsafe) and xapi would not run it")
        return
    sandbox = StackSandbox(sandbox_parent, extra_env)
    if isolate:
        sandbox.isolate(os.path.basename(os.path.normpath(path)))
    probe = StackProbe(path, sandbox, timeout, start_timeout, owner_uid)
    try:
        for check, func in CHECKS:
            _record(suite, check, func, probe)
        absent = probe.engine_absent
        _stop_left_daemon(probe)
        for check, verdict in ((NO_FENCE, no_fence), (TIMEOUT, timeouts)):
            suite.mark()
            suite.add(check, *verdict(probe, absent))
    finally:
        _stop_left_daemon(probe)
        left = describe_pids([pid for pid in sandbox.leftover_pids() if pid not in probe.left_after_stop])
        killed = [pid for pid in sandbox.cleanup() if pid not in probe.left_after_stop]
    note_killed(suite, killed, left)


def _stop_left_daemon(probe: StackProbe) -> None:
    """The kit's own ha_stop_daemon when the checks started a daemon and did not stop it."""
    if probe.daemon_may_run and not probe.stopped:
        probe.stopped = True
        probe.engine_absent = ""
        try:
            probe.call("ha_stop_daemon", timeout=probe.start_timeout)
        except (Skip, Fail):
            pass


def note_killed(suite: res.Suite, killed: typing.List[int], left: str) -> None:
    """Say on stack.stop-daemon what the kit had to kill at the end (not yet reported); a PASS becomes a FAIL."""
    if not killed:
        return
    try:
        stop = suite.get(STOP_DAEMON)
    except KeyError:
        return
    text = "the kit killed what the stack left running at the end: %s" % (left or describe_pids(killed))
    if stop.result == res.PASS:
        stop.result, stop.detail = res.FAIL, text
    else:
        stop.detail = "%s; %s" % (stop.detail, text) if stop.detail else text
