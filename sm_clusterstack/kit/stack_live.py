"""Behaviour checks of a cluster stack, on sandboxed hosts, in the order xapi calls the scripts.

``ocaml/xapi/xapi_ha.ml``: with no daemon anywhere, ``ha_set_pool_state
init`` on the master; ``ha_start_daemon`` on every host in parallel;
``ha_propose_master`` on the master, which must print TRUE; the liveset
queried on every host.  Then xapi's clean shutdown of one host
(``emergency_ha_disable``: disarm, stop, ``ha_set_excluded``), which fences
nobody, and its rejoin; then ``disable_internal`` through the statefile:
``ha_set_pool_state invalid`` and stop on the master, every other daemon
stopping by itself.  Around that, what the interface promises with no
daemon (query 14, stop 0), for a bad argument (1) and while running (init
refused).  See stack_probe for how scripts run, stack_leave for the
shutdown and the final verdicts.
"""

import typing

from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import stack_leave as leave
from sm_clusterstack.kit.stack_probe import Fail, Skip, StackProbe, Unreadable, code, expect, expect_no_daemon
from sm_clusterstack.stacks import client, mtc

NO_DAEMON_EXIT = "stack.no-daemon-exit"
BAD_ARGUMENT = "stack.bad-argument"
POOL_STATE = "stack.pool-state"
START_DAEMON = "stack.start-daemon"
LIVESET_SCHEMA = "stack.liveset-schema"
LIVESET_LOCALHOST = "stack.liveset-localhost"
POOL_JOIN = "stack.pool-join"
PROPOSE_MASTER = "stack.propose-master"
POOL_STATE_RUNNING = "stack.pool-state-running"
MASTER = 0


def no_daemon_exit(p: StackProbe) -> str:
    """With no daemon, on every host: ha_stop_daemon exits 0, ha_query_liveset exits 14."""
    for index in range(p.count):
        expect(p.call(index, client.HA_STOP_DAEMON), mtc.SUCCESS, "%s ha_stop_daemon with no daemon" % p.label(index))
        expect_no_daemon(p.call(index, client.HA_QUERY_LIVESET), "%s ha_query_liveset with no daemon" % p.label(index))
    return "on %s: ha_stop_daemon exits 0, ha_query_liveset exits 14 DAEMON_IS_NOT_PRESENT" % _hosts(p)


def bad_argument(p: StackProbe) -> str:
    """ha_set_pool_state with an unknown state, or none, exits 1."""
    for args in (["not-a-state"], []):
        result = p.call(MASTER, client.HA_SET_POOL_STATE, args)
        expect(result, mtc.INVALID_PARAMETER, "ha_set_pool_state %s" % (" ".join(args) or "(no argument)"))
    return "ha_set_pool_state with a bad or no state exits 1 INVALID_PARAMETER"


def pool_state(p: StackProbe) -> str:
    """With no daemon, on the master: init, invalid, init all exit 0 (xapi's init comes last)."""
    for state in (client.POOL_STATE_INIT, client.POOL_STATE_INVALID, client.POOL_STATE_INIT):
        expect(p.call(MASTER, client.HA_SET_POOL_STATE, [state]), mtc.SUCCESS, "ha_set_pool_state %s" % state)
    return "init, invalid, init all exit 0 on the master with no daemon"


def start_daemon(p: StackProbe) -> str:
    """ha_start_daemon on every host at once (as xapi does) exits 0 on each."""
    p.may_run.update(range(p.count))
    outcomes = p.call_hosts(client.HA_START_DAEMON, list(range(p.count)), timeout=p.start_timeout)
    for index, found in sorted(outcomes.items()):
        if isinstance(found, Skip):
            raise found
        if not isinstance(found, Exception) and found.returncode == mtc.SUCCESS:
            p.running.add(index)
    problems = []
    for index, found in sorted(outcomes.items()):
        try:
            if isinstance(found, Exception):
                raise found
            expect(found, mtc.SUCCESS, "%s ha_start_daemon" % p.label(index))
        except Fail as e:
            problems.append(str(e))
    if problems:
        raise Fail("; ".join(problems))
    p.started = True
    return "exits 0 on %s, started in parallel, each in its own host sandbox (%s)" % (
        _hosts(p), ", ".join(h.netns for h in p.hosts.hosts))


def liveset_valid(p: StackProbe) -> str:
    """Every host's ha_query_liveset prints a liveset xapi accepts (stacks.liveset is xapi's parser)."""
    p.need_daemons()
    for index in range(p.count):
        try:
            p.livesets[index] = p.query(index)
        except Unreadable as e:
            raise Fail(str(e))
    statuses = sorted(set(ls.status for ls in p.livesets.values()))
    return "accepted as xapi reads it on %s (status %s)" % (_hosts(p), "/".join(statuses))


def _livesets(p: StackProbe) -> None:
    p.need_daemons()
    if len(p.livesets) != p.count:
        raise Skip("needs every host's liveset accepted (see %s)" % LIVESET_SCHEMA)


def liveset_localhost(p: StackProbe) -> str:
    """Each host's liveset names it as localhost, Online, with itself live (ha_start_daemon's promise)."""
    _livesets(p)
    for index, found in sorted(p.livesets.items()):
        me, who = p.hosts.host_ids[index], p.label(index)
        if found.localhost != me:
            raise Fail("%s: localhost is %s, its xhad.conf's HostID is %s" % (who, found.localhost, me))
        try:
            local = found.host(me)
        except KeyError:
            raise Fail("%s: no <host> entry for the local host %s" % (who, me))
        if not local.liveness or found.status != "Online":
            raise Fail("%s: after ha_start_daemon exited 0 the local host's liveness is %s, status %s "
                       "(it returns only once this host is in an Online liveset)"
                       % (who, local.liveness, found.status))
    return "on %s the local host is the configured one, live, status Online" % _hosts(p)


def pool_join(p: StackProbe) -> str:
    """Every host's liveset lists every configured host, live: the whole pool joined."""
    _livesets(p)
    for index, found in sorted(p.livesets.items()):
        for other, host_id in enumerate(p.hosts.host_ids):
            try:
                live = found.host(host_id).liveness
            except KeyError:
                raise Fail("%s's liveset does not list %s (%s)" % (p.label(index), p.label(other), host_id))
            if not live:
                raise Fail("%s's liveset shows %s not live after every host's ha_start_daemon exited 0"
                           % (p.label(index), p.label(other)))
    p.joined = True
    return "every host's liveset lists all %d configured host(s) live" % p.count


def propose_master(p: StackProbe) -> str:
    """The master's ha_propose_master prints TRUE, any other host's does not; then every liveset flags it."""
    p.need_join()
    result = p.call(MASTER, client.HA_PROPOSE_MASTER)
    expect(result, mtc.SUCCESS, "ha_propose_master on the master")
    if client.read_proposal(result.stdout) is not True:
        raise Fail("ha_propose_master on the master printed %r: xapi reads only TRUE (one trailing newline "
                   "allowed) and the master of a quorate pool with no master must get it" % result.stdout[:80])
    for index in range(1, p.count):
        other = p.call(index, client.HA_PROPOSE_MASTER)
        expect(other, mtc.SUCCESS, "ha_propose_master on %s" % p.label(index))
        if client.read_proposal(other.stdout) is True:
            raise Fail("%s's ha_propose_master also printed TRUE while the master holds it: two masters"
                       % p.label(index))
    master = p.hosts.host_ids[MASTER]
    wait = p.hosts.parameters["HeartbeatTimeout"]
    for index in range(p.count):
        if p.wait_for(index, lambda ls: _only_master(ls, master), wait) is None:
            raise Fail("%s's liveset did not flag h1 (and only h1) master within %ds of its TRUE"
                       % (p.label(index), wait))
    p.look("after ha_propose_master")
    others = " and FALSE on the other host(s)" if p.count > 1 else ""
    return "TRUE on the master%s; every host's liveset then flags the master" % others


def _only_master(found, master: str) -> bool:
    return [h.host_id for h in found.hosts if h.master] == [master]


def pool_state_running(p: StackProbe) -> str:
    """ha_set_pool_state init is refused on the master while the daemons run."""
    p.need_daemons()
    result = p.call(MASTER, client.HA_SET_POOL_STATE, [client.POOL_STATE_INIT])
    if result.returncode == mtc.SUCCESS:
        raise Fail("ha_set_pool_state init exited 0 while the daemons run; init is only for a stopped pool")
    p.look("after ha_set_pool_state init was refused")
    return "refused with %s" % code(result)


def _hosts(p: StackProbe) -> str:
    return "the only host" if p.count == 1 else "all %d hosts" % p.count


CHECKS = (
    (NO_DAEMON_EXIT, no_daemon_exit),
    (BAD_ARGUMENT, bad_argument),
    (POOL_STATE, pool_state),
    (START_DAEMON, start_daemon),
    (LIVESET_SCHEMA, liveset_valid),
    (LIVESET_LOCALHOST, liveset_localhost),
    (POOL_JOIN, pool_join),
    (PROPOSE_MASTER, propose_master),
    (POOL_STATE_RUNNING, pool_state_running),
) + leave.CHECKS
IDS = tuple(check for check, _ in CHECKS) + leave.VERDICTS


def record(suite: res.Suite, check: str, func: typing.Callable[[StackProbe], str], probe: StackProbe) -> None:
    """Run one check and record its verdict (a kit bug is ERROR, the checks go on)."""
    suite.mark()
    try:
        suite.add(check, res.PASS, func(probe))
    except Unreadable as e:
        suite.add(check, res.SKIP, "needs livesets xapi accepts (see %s): %s" % (LIVESET_SCHEMA, e))
    except Skip as e:
        suite.add(check, res.SKIP, str(e))
    except Fail as e:
        suite.add(check, res.FAIL, str(e))
    except Exception as e:  # a bug of the kit: report it, keep checking
        suite.add(check, res.ERROR, "kit error: %s: %s" % (type(e).__name__, e))


def run(suite: res.Suite, probe: StackProbe) -> None:
    """Record every behaviour check on the probe's hosts (made and removed by the caller)."""
    try:
        for check, func in CHECKS:
            record(suite, check, func, probe)
    finally:
        leave.stop_everything(probe)
    for check, verdict in leave.verdicts(probe):
        suite.mark()
        suite.add(check, *verdict)


def skip_all(suite: res.Suite, reason: str) -> None:
    """Every behaviour check SKIP with ``reason``."""
    for check in IDS:
        suite.add(check, res.SKIP, reason)
