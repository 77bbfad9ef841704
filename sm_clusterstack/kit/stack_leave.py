"""The end of a stack's behaviour checks: a clean shutdown, HA disabled, and the final verdicts.

A clean shutdown is ``xapi_ha.ml`` ``emergency_ha_disable``: on the host
leaving (the last one; the only one of a one-host pool) ``ha_disarm_fencing``,
``ha_stop_daemon``, then ``ha_set_excluded`` (xapi calls it only after the
stop, and never calls ``ha_clear_excluded``: a host clears its own mark when
it starts).  The others must stay Online and see it excluded; started
again, it rejoins.  xapi never shuts a host down within seconds of
``enable_ha``: the kit lets the pool run two statefile intervals first (real
xhad records the pool ACTIVE in the statefile asynchronously).

Disabling HA is ``disable_internal`` with statefile access: ``ha_set_pool_state
invalid`` and ``ha_stop_daemon`` on the master; every other daemon must stop
by itself.  Whatever happened, the kit then runs xapi's other path (disarm and
stop on every host) and reports any process left in a sandbox.
"""

import time
import typing

from sm_clusterstack.kit import result as res
from sm_clusterstack.kit.stack_probe import Fail, Skip, StackProbe, code, describe_pids, expect, expect_no_daemon
from sm_clusterstack.stacks import client, mtc

DISARM_FENCING = "stack.disarm-fencing"
STOP_DAEMON = "stack.stop-daemon"
EXCLUDED = "stack.excluded-roundtrip"
DISABLE = "stack.disable"
NO_FENCE = "stack.no-fence"
TIMEOUT = "stack.timeout"
VERDICTS = (NO_FENCE, TIMEOUT)
MASTER = 0
STOP_GRACE = 5.0  # seconds the processes of a stopped daemon may take to exit
MARGIN = 5.0  # seconds beyond the HA timeout a change may take to show in a liveset


def _leaving(p: StackProbe) -> int:
    return p.count - 1


def _settle(p: StackProbe) -> float:
    params = p.hosts.parameters
    return 2.0 * max(params["StateFileInterval"], params["HeartbeatInterval"])


def _wait(p: StackProbe) -> float:
    return p.hosts.parameters["HeartbeatTimeout"] + MARGIN


def disarm_fencing(p: StackProbe) -> str:
    """On the host leaving: ha_disarm_fencing exits 0 and its daemon still answers (disarmed, not stopped)."""
    p.need_daemons()
    time.sleep(_settle(p))
    p.look("before the clean shutdown")
    leaving = _leaving(p)
    who = p.label(leaving)
    expect(p.call(leaving, client.HA_DISARM_FENCING), mtc.SUCCESS, "%s ha_disarm_fencing" % who)
    expect(p.call(leaving, client.HA_QUERY_LIVESET), mtc.SUCCESS, "%s ha_query_liveset after ha_disarm_fencing" % who)
    return "%s (shutting down cleanly) exits 0 and its daemon still answers" % who


def stop_daemon(p: StackProbe) -> str:
    """On the host leaving: ha_stop_daemon exits 0, then ha_query_liveset exits 14 and no process is left."""
    p.need_daemons()
    leaving = _leaving(p)
    who = p.label(leaving)
    expect(p.call(leaving, client.HA_STOP_DAEMON, timeout=p.start_timeout), mtc.SUCCESS, "%s ha_stop_daemon" % who)
    p.running.discard(leaving)
    query = p.call(leaving, client.HA_QUERY_LIVESET)
    if query.returncode == mtc.SUCCESS:
        raise Fail("%s ha_query_liveset still exits 0 after ha_stop_daemon: the daemon did not stop" % who)
    expect_no_daemon(query, "%s ha_query_liveset after ha_stop_daemon" % who)
    left = p.leftovers(leaving, STOP_GRACE)
    p.reported_left.update(left)
    if left:
        raise Fail("%s ha_stop_daemon exited 0 but left running, %gs later: %s"
                   % (who, STOP_GRACE, describe_pids(left)))
    p.stopped_cleanly = True
    return "%s stopped: ha_query_liveset then exits %s, no process left in its sandbox" % (who, code(query))


def excluded_roundtrip(p: StackProbe) -> str:
    """After disarm and stop, ha_set_excluded exits 0; the others see it excluded; it starts again and rejoins."""
    p.need_join()
    if not p.stopped_cleanly:
        raise Skip("needs the clean stop of the host leaving (see %s)" % STOP_DAEMON)
    leaving = _leaving(p)
    who, host_id = p.label(leaving), p.hosts.host_ids[leaving]
    expect(p.call(leaving, client.HA_SET_EXCLUDED), mtc.SUCCESS, "%s ha_set_excluded after disarm and stop" % who)
    seen = [_sees_excluded(p, index, host_id, who) for index in sorted(p.running)]
    if seen:  # a survivor that would fence does so once the heartbeat timeout has passed
        time.sleep(p.hosts.parameters["HeartbeatTimeout"] + p.hosts.parameters["HeartbeatInterval"])
    before = len(p.gone)
    p.look("%s after %s left cleanly" % (_survival(p), who))
    if len(p.gone) > before:
        raise Fail("a clean shutdown fenced another host: %s" % "; ".join(p.gone[before:]))
    expect(p.call(leaving, client.HA_START_DAEMON, timeout=p.start_timeout), mtc.SUCCESS,
           "%s ha_start_daemon after its clean shutdown" % who)
    p.running.add(leaving)
    for index in range(p.count):
        if p.wait_for(index, lambda ls: _rejoined(ls, host_id), _wait(p)) is None:
            raise Fail("%s's liveset did not show %s live and no longer excluded within %gs of its restart"
                       % (p.label(index), who, _wait(p)))
    if not seen:
        return ("ha_set_excluded exits 0 after disarm and stop; started again, the only host is live and "
                "not excluded (a one-host pool has no other host to see the mark)")
    return "ha_set_excluded exits 0 after disarm and stop; %s saw %s excluded and kept running %s; " \
           "%s started again and rejoined, excluded FALSE everywhere" % (", ".join(seen), who, _survival(p), who)


def _survival(p: StackProbe) -> str:
    return "%ds (the heartbeat timeout and one interval)" % (
        p.hosts.parameters["HeartbeatTimeout"] + p.hosts.parameters["HeartbeatInterval"])


def _sees_excluded(p: StackProbe, index: int, host_id: str, who: str) -> str:
    before = len(p.gone)
    try:
        found = p.wait_for(index, lambda ls: _flag(ls, host_id, "excluded"), _wait(p))
    except Fail:
        # its daemon may be gone the moment it saw the mark (a fence on another host's clean exit): the
        # same failure as the look after the heartbeat timeout finds, whichever sees it first
        if len(p.gone) > before:
            raise Fail("a clean shutdown fenced another host: %s" % "; ".join(p.gone[before:]))
        raise
    if found is None:
        raise Fail("%s's liveset did not show %s excluded within %gs of its ha_set_excluded"
                   % (p.label(index), who, _wait(p)))
    if found.status != "Online" or not _flag(found, p.hosts.host_ids[index], "liveness"):
        raise Fail("%s lost its place when %s left cleanly: status %s" % (p.label(index), who, found.status))
    return p.label(index)


def _flag(found, host_id: str, flag: str) -> bool:
    try:
        return bool(getattr(found.host(host_id), flag))
    except KeyError:
        return False


def _rejoined(found, host_id: str) -> bool:
    return found.status == "Online" and _flag(found, host_id, "liveness") and not _flag(found, host_id, "excluded")


def disable(p: StackProbe) -> str:
    """HA disabled as xapi does it: invalid and stop on the master; every daemon stops; nothing left."""
    try:
        verdict = _disable_through_statefile(p)
    except (Skip, Fail) as e:
        verdict = e
    stop_everything(p)
    left = {i: p.leftovers(i, STOP_GRACE) for i in range(p.count)}
    left = {i: pids for i, pids in left.items() if pids}
    if left:
        raise Fail("the kit had to stop what was still running at the end: %s" % "; ".join(
            "%s: %s" % (p.label(i), describe_pids(pids)) for i, pids in sorted(left.items())))
    if isinstance(verdict, Exception):
        raise verdict
    return verdict


def _disable_through_statefile(p: StackProbe) -> str:
    p.need_daemons()
    expect(p.call(MASTER, client.HA_SET_POOL_STATE, [client.POOL_STATE_INVALID]), mtc.SUCCESS,
           "ha_set_pool_state invalid (disable)")
    expect(p.call(MASTER, client.HA_STOP_DAEMON, timeout=p.start_timeout), mtc.SUCCESS, "the master's ha_stop_daemon")
    p.running.discard(MASTER)
    for index in sorted(p.running):
        if not _stops_by_itself(p, index):
            raise Fail("%s's daemon still runs %gs after the pool state became invalid" % (p.label(index), _wait(p)))
        p.running.discard(index)
    others = " and every other host's daemon stopped by itself" if p.count > 1 else ""
    return "ha_set_pool_state invalid and ha_stop_daemon on the master exit 0%s; no process left" % others


def _stops_by_itself(p: StackProbe, index: int) -> bool:
    deadline = time.monotonic() + _wait(p)
    while time.monotonic() < deadline:
        if p.call(index, client.HA_QUERY_LIVESET).returncode != mtc.SUCCESS:
            return True
        time.sleep(0.5)
    return False


def stop_everything(p: StackProbe) -> None:
    """xapi's no-statefile disable on every host the kit may have left a daemon on: disarm, then stop."""
    absent, p.invalid_env = p.invalid_env, ""
    try:
        for index in sorted(p.may_run):
            for script in (client.HA_DISARM_FENCING, client.HA_STOP_DAEMON):
                try:
                    p.call(index, script, timeout=p.start_timeout)
                except (Skip, Fail):
                    pass
            p.running.discard(index)
        p.may_run.clear()
    finally:
        p.invalid_env = p.invalid_env or absent


def verdicts(p: StackProbe) -> typing.List[typing.Tuple[str, typing.Tuple[str, str]]]:
    """The verdicts over the whole run: nobody fenced, nothing timed out."""
    return [(NO_FENCE, _no_fence(p)), (TIMEOUT, _timeouts(p))]


def _no_fence(p: StackProbe) -> typing.Tuple[str, str]:
    fenced = p.hosts.fences() + p.gone
    if fenced:
        return res.FAIL, "a host fenced itself or its daemon died: %s" % "; ".join(fenced)
    if not p.looks:
        return res.SKIP, ("not observed: no daemon ran to be watched" if not p.invalid_env
                          else "not run: the stack exited 16 INVALID_ENVIRONMENT (see above)")
    return res.PASS, ("every daemon that should run was still there each time the kit looked (%d looks, "
                      "across the clean shutdown of a host)" % p.looks)


def _timeouts(p: StackProbe) -> typing.Tuple[str, str]:
    if p.timeouts:
        return res.FAIL, "killed at the timeout: %s" % ", ".join(p.timeouts)
    if p.invalid_env:
        return res.SKIP, "not run: the stack exited 16 INVALID_ENVIRONMENT (see above)"
    return res.PASS, "every script exited within its timeout"


CHECKS = (
    (DISARM_FENCING, disarm_fencing),
    (STOP_DAEMON, stop_daemon),
    (EXCLUDED, excluded_roundtrip),
    (DISABLE, disable),
)
