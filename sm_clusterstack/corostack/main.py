"""The scripts of the corosync-ha stack: ``main(script, argv)`` runs one.

Arguments, exit codes and output follow xhad's (REFERENCE.md section 4);
every failure is an MTC exit code with one line on stderr, never a
traceback.  xhad.conf is the ``-C`` file where a script takes one, else
/etc/xensource/xhad.conf; scripts that ask the running daemon use the copy
it was started with.  Settings come from /etc/sm-clusterstack/corosync-ha.conf.
"""

import os
import sys
import typing

from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import corolib, corowatch, daemon, livesetbuild, statefile, timing, view
from sm_clusterstack.corostack.common import (
    Failure, environment, initialise, load_config, need_daemon, parse_args, read_state, running, update_state)
from sm_clusterstack.stacks import mtc, names, xhadconf

STOP_MONITOR = 5.0  # seconds for the monitor to stop on SIGTERM
FOREIGN_TIMEOUT = 5.0  # seconds for another corosync to answer before ha_start_daemon
START_GRACE = 5.0  # seconds ha_start_daemon waits beyond the join timeout for the monitor's word


def set_pool_state(argv: typing.List[str]) -> int:
    """ha_set_pool_state init|active|invalid [-C FILE]: init only with no daemon (15)."""
    state, given = parse_args(argv, statefile.POOL_STATES, config=True)
    _settings, paths = environment()
    conf = load_config(given)
    if state != "init":
        update_state(conf, lambda s: setattr(s, "pool_state", state))
    elif running(paths):
        raise Failure(mtc.DAEMON_IS_PRESENT, "init refused: the corosync-ha daemon runs on this host")
    else:
        initialise(conf)
    return mtc.SUCCESS


def start_daemon(argv: typing.List[str]) -> int:
    """ha_start_daemon [-C FILE]: returns once this host is in an Online liveset (12 after the join timeout)."""
    _state, given = parse_args(argv, config=True)
    config, paths = environment()
    conf = load_config(given)
    state = check_can_start(paths, conf)
    times = timing.of_parameters(conf.parameters)
    paths.make()
    daemon.write_atomic(paths.xhad_conf, conf.to_xml().decode("utf-8"))
    daemon.write_json(paths.xhad_data, xhadconf.to_dict(conf))
    write_corosync_conf(paths, conf, config.cluster_name, times)
    launch(paths, config)
    limit = timing.join_timeout(conf.parameters, state.pool_state)
    me = conf.local_host_id.lower()
    outcome = daemon.wait_for(lambda: start_outcome(paths, times, me), limit + START_GRACE, 0.1) or "timeout"
    if outcome == "online":
        return mtc.SUCCESS
    stop_all(paths)
    if outcome == "blocked":
        raise Failure(mtc.BOOT_BLOCKED_BY_EXCLUDED, "this host is excluded and hosts that are not may hold "
                      "the liveset: it may not form one alone")
    if outcome == "timeout":
        raise Failure(mtc.BOOTJOIN_TIMEOUT, "this host was not in an Online liveset within %d s" % limit)
    if outcome == "disabled":
        raise Failure(mtc.INVALID_POOL_STATE, "the pool state became invalid while this host was joining")
    raise Failure(mtc.SYSTEM_ERROR, "the daemon stopped while joining: %s" % outcome)


def start_outcome(paths: daemon.Paths, times: timing.Timing, me: str) -> str:
    """"online", "blocked", "disabled", a reason the start failed, or "" while joining.

    Online counts once the statefile no longer records this host excluded:
    the monitor clears the mark as it goes online, but waits at most its I/O
    deadline for the write, and a start that returns promises the mark gone
    (xha daemon/sm.c, the state manager's start, clears it before join()).
    """
    found = view.read(paths, times.view_stale)
    if found is not None and found.state == "online" and me in found.excluded:
        return ""
    if found is not None and found.state in ("online", "blocked", "disabled"):
        return found.state
    if found is not None and found.state == "failed":
        return found.reason
    if daemon.monitor_pid(paths) is None or daemon.guard_pid(paths) is None:
        return "the monitor or the fence guard exited"
    return ""


def check_can_start(paths: daemon.Paths, conf: xhadconf.XhadConfig) -> statefile.PoolState:
    """The pool record, unless something stops this host from starting (15, 16, 8-11)."""
    if running(paths):
        raise Failure(mtc.DAEMON_IS_PRESENT, "the corosync-ha daemon already runs for %s" % paths.dir)
    try:
        corolib.load_all()
    except corolib.LibraryMissing as e:
        raise Failure(mtc.INVALID_ENVIRONMENT, str(e))
    if foreign_corosync():
        raise Failure(mtc.INVALID_ENVIRONMENT, "a corosync this stack did not start answers in this network "
                      "namespace; stop it (e.g. corosync.service) first")
    state = read_state(conf)
    if state.pool_state == "invalid":
        raise Failure(mtc.INVALID_POOL_STATE, "pool state is invalid")
    return state


def foreign_corosync() -> bool:
    """True when a corosync answers here although ours does not run."""
    return corowatch.current_membership(FOREIGN_TIMEOUT) is not None


def write_corosync_conf(paths: daemon.Paths, conf: xhadconf.XhadConfig, cluster_name: str,
                        times: timing.Timing) -> None:
    """Generate corosync.conf and have corosync check it (Failure 7)."""
    try:
        daemon.write_atomic(paths.corosync_conf, coroconf.render(conf, paths, cluster_name, times))
        daemon.check_config(paths)
    except ValueError as e:
        raise Failure(mtc.INVALID_CONFIG_FILE, str(e))


def launch(paths: daemon.Paths, config) -> None:
    """Start corosync, then the fence guard and the monitor joined by a pipe (Failure 2, all stopped)."""
    daemon.set_fencing(paths, "unarmed")
    try:
        daemon.start_corosync(paths)
        read_end, write_end = os.pipe()
        try:
            args = [paths.dir, config.path]
            daemon.write_atomic(paths.guard_pid, "%d\n" % daemon.spawn(
                "sm_clusterstack.corostack.guard", args + [str(read_end)], [read_end]))
            daemon.write_atomic(paths.monitor_pid, "%d\n" % daemon.spawn(
                "sm_clusterstack.corostack.monitor", args + [str(write_end)], [write_end]))
        finally:
            os.close(read_end)
            os.close(write_end)
    except (daemon.DaemonError, OSError) as e:
        stop_all(paths)
        raise Failure(mtc.SYSTEM_ERROR, str(e))


def stop_all(paths: daemon.Paths) -> None:
    """Disarm; stop the monitor (it stands the guard down), the guard, then corosync (Failure 2)."""
    if os.path.isdir(paths.dir):
        daemon.set_fencing(paths, "disarmed")
    try:
        daemon.stop_process(lambda: daemon.monitor_pid(paths), STOP_MONITOR)
        if daemon.wait_for(lambda: daemon.guard_pid(paths) is None, STOP_MONITOR) is False:
            daemon.stop_process(lambda: daemon.guard_pid(paths), 0.0)
        daemon.stop_process(lambda: daemon.corosync_pid(paths), daemon.STOP_TIMEOUT)
    except daemon.DaemonError as e:
        raise Failure(mtc.SYSTEM_ERROR, str(e))
    try:
        os.unlink(paths.view)
    except FileNotFoundError:
        pass  # never written, or the monitor withdrew it as it shut down


def stop_daemon(argv: typing.List[str]) -> int:
    """ha_stop_daemon: stop everything; success also when nothing runs."""
    parse_args(argv)
    stop_all(environment()[1])
    return mtc.SUCCESS


def query_liveset(argv: typing.List[str]) -> int:
    """ha_query_liveset: print the liveset XML (14 with no healthy daemon)."""
    parse_args(argv)
    found, conf = need_daemon(environment()[1])
    liveset = livesetbuild.build(conf, found, timing.of_parameters(conf.parameters).slot_stale)
    sys.stdout.buffer.write(liveset.to_xml())
    return mtc.SUCCESS


def propose_master(argv: typing.List[str]) -> int:
    """ha_propose_master: TRUE when the liveset is Online and the master lock is free or ours."""
    parse_args(argv)
    found, conf = need_daemon(environment()[1])
    me = conf.local_host_id.lower()
    if found.state != "online":
        sys.stdout.write("FALSE\n")
        return mtc.SUCCESS
    live = set(found.committed)

    def take(state):
        if state.master not in live or state.master in state.excluded:
            state.master = me  # no live master holds the lock: the asker takes it
    chosen = update_state(conf, take).master
    sys.stdout.write("TRUE\n" if chosen == me else "FALSE\n")
    return mtc.SUCCESS


def disarm_fencing(argv: typing.List[str]) -> int:
    """ha_disarm_fencing: this host will not fence any more (14 with no daemon)."""
    parse_args(argv)
    paths = environment()[1]
    if daemon.monitor_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "the corosync-ha daemon does not run (%s)" % paths.dir)
    daemon.set_fencing(paths, "disarmed")
    return mtc.SUCCESS


def set_excluded(argv: typing.List[str]) -> int:
    """ha_set_excluded [-C FILE]: mark this host excluded; a running daemon leaves without fencing."""
    _state, given = parse_args(argv, config=True)
    paths = environment()[1]
    conf = load_config(given)
    me = conf.local_host_id.lower()
    update_state(conf, lambda s: s.excluded.append(me))
    if running(paths):
        stop_all(paths)
    return mtc.SUCCESS


def clear_excluded(argv: typing.List[str]) -> int:
    """ha_clear_excluded [-C FILE]: clear this host's mark (a starting host also clears its own)."""
    _state, given = parse_args(argv, config=True)
    environment()
    conf = load_config(given)
    me = conf.local_host_id.lower()
    update_state(conf, lambda s: setattr(s, "excluded", [h for h in s.excluded if h != me]))
    return mtc.SUCCESS


SCRIPTS = {  # the script names stacks.client calls (from stacks.names: nothing heavier on a script's start)
    names.HA_SET_POOL_STATE: set_pool_state, names.HA_START_DAEMON: start_daemon,
    names.HA_STOP_DAEMON: stop_daemon, names.HA_QUERY_LIVESET: query_liveset,
    names.HA_PROPOSE_MASTER: propose_master, names.HA_DISARM_FENCING: disarm_fencing,
    names.HA_SET_EXCLUDED: set_excluded, names.HA_CLEAR_EXCLUDED: clear_excluded,
}


def main(script: str, argv: typing.List[str]) -> int:
    """Run ``script`` with ``argv``; its MTC exit code."""
    if script not in SCRIPTS:
        sys.stderr.write("%s: not a script of the corosync-ha stack\n" % script)
        return mtc.INTERNAL_BUG
    try:
        return SCRIPTS[script](argv)
    except Failure as e:
        sys.stderr.write("%s: %s\n" % (script, e))
        return e.code
    except Exception as e:  # the interface promises an exit code, never a traceback
        sys.stderr.write("%s: internal error: %s: %s\n" % (script, type(e).__name__, e))
        return mtc.INTERNAL_BUG
