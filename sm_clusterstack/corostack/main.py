"""The scripts of the corosync stack: ``main(script, argv)`` runs one.

Arguments, exit codes and output follow REFERENCE.md section 4; every
failure is an MTC exit code with one line on stderr, never a traceback.
Scripts given ``-C FILE`` record that path in the runtime directory, and
scripts without it read the xhad.conf recorded there (else the default).
"""

import os
import sys
import typing

from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import (
    FENCE_ENV, cluster_name, daemon, fence_action, livesetbuild, monitor, statefile, tools)
from sm_clusterstack.corostack.common import (
    Failure, environment, load_config, membership, need_daemon, parse_args, read_state, update_state)
from sm_clusterstack.stacks import mtc, xhadconf

DEFAULT_JOIN_TIMEOUT = 30  # seconds ha_start_daemon waits without a BootJoinTimeout


def set_pool_state(argv: typing.List[str]) -> int:
    """ha_set_pool_state init|active|invalid [-C FILE]."""
    state, given = parse_args(argv, statefile.POOL_STATES, config=True)
    paths = environment()
    conf = load_config(paths, given)
    if state != "init":
        update_state(conf, lambda s: setattr(s, "pool_state", state))
        return mtc.SUCCESS
    if daemon.corosync_pid(paths) is not None:
        raise Failure(mtc.DAEMON_IS_PRESENT, "init refused: corosync runs on this host")
    try:
        statefile.write(conf.statefile, statefile.PoolState(conf.generation_uuid, "init"))
    except statefile.StatefileError as e:
        raise Failure(mtc.CAN_NOT_ACCESS_STATEFILE, str(e))
    return mtc.SUCCESS


def start_daemon(argv: typing.List[str]) -> int:
    """ha_start_daemon [-C FILE]: corosync and the fence monitor, until this host is live."""
    _state, given = parse_args(argv, config=True)
    paths = environment()
    conf = load_config(paths, given)
    check_can_start(paths, conf)
    try:
        fence_argv = fence_action()
    except ValueError as e:
        raise Failure(mtc.INVALID_ENVIRONMENT, "%s: %s" % (FENCE_ENV, e))
    write_corosync_conf(paths, conf)
    launch(paths, conf.statefile, fence_argv)
    join_timeout = conf.parameters.get("BootJoinTimeout") or DEFAULT_JOIN_TIMEOUT
    if not daemon.wait_for(lambda: local_is_live(conf), join_timeout, 0.2):
        stop_all(paths)
        raise Failure(mtc.BOOTJOIN_TIMEOUT, "this host did not join within %d s" % join_timeout)
    return mtc.SUCCESS


def check_can_start(paths: daemon.Paths, conf: xhadconf.XhadConfig) -> None:
    """Failure unless nothing runs here and the statefile lets this host start."""
    if daemon.corosync_pid(paths) is not None or daemon.monitor_pid(paths) is not None:
        raise Failure(mtc.DAEMON_IS_PRESENT, "corosync or its monitor already runs for %s" % paths.dir)
    if foreign_corosync():
        raise Failure(mtc.INVALID_ENVIRONMENT, "a corosync this stack did not start answers in this network "
                      "namespace; stop it (e.g. corosync.service) first")
    state = read_state(conf)
    if state.pool_state == "invalid":
        raise Failure(mtc.INVALID_POOL_STATE, "pool state is invalid")
    if conf.local_host_id.lower() in state.excluded:
        raise Failure(mtc.BOOT_BLOCKED_BY_EXCLUDED, "this host is excluded: run ha_clear_excluded")


def foreign_corosync() -> bool:
    """True when a corosync answers here although ours does not run."""
    try:
        tools.query_membership()
    except tools.DaemonAbsent:
        return False
    except tools.ToolOutputError:
        return True
    return True


def write_corosync_conf(paths: daemon.Paths, conf: xhadconf.XhadConfig) -> None:
    """Generate corosync.conf and have corosync check it (Failure 7)."""
    paths.make()
    try:
        daemon.write_atomic(paths.corosync_conf, coroconf.render(conf, paths.dir, cluster_name()))
        daemon.check_config(paths)
    except ValueError as e:
        raise Failure(mtc.INVALID_CONFIG_FILE, str(e))


def launch(paths: daemon.Paths, statefile_path: str, fence_argv: typing.List[str]) -> None:
    """Start corosync, then the armed monitor (Failure 2, having stopped both)."""
    daemon.set_fencing(paths, "armed")
    try:
        daemon.start_corosync(paths)
        monitor.spawn(paths, statefile_path, fence_argv)
    except (daemon.DaemonError, OSError) as e:
        stop_all(paths)
        raise Failure(mtc.SYSTEM_ERROR, str(e))


def local_is_live(conf: xhadconf.XhadConfig) -> bool:
    """True when corosync counts this host as a member of its partition."""
    try:
        members, nodelist = tools.query_membership(), tools.query_nodelist()
    except (tools.DaemonAbsent, tools.ToolOutputError):
        return False
    return conf.local_host_id.lower() in livesetbuild.live_host_ids(conf, members, nodelist)


def stop_all(paths: daemon.Paths) -> None:
    """Disarm, then stop the monitor and corosync (Failure 2 if one will not die)."""
    if os.path.isdir(paths.dir):
        daemon.set_fencing(paths, "disarmed")
    try:
        daemon.stop_process(lambda: daemon.monitor_pid(paths), 5.0)
        daemon.stop_process(lambda: daemon.corosync_pid(paths), daemon.STOP_TIMEOUT)
    except daemon.DaemonError as e:
        raise Failure(mtc.SYSTEM_ERROR, str(e))


def stop_daemon(argv: typing.List[str]) -> int:
    """ha_stop_daemon: stop both; success when none runs."""
    parse_args(argv)
    stop_all(environment())
    return mtc.SUCCESS


def query_liveset(argv: typing.List[str]) -> int:
    """ha_query_liveset: print the liveset XML."""
    parse_args(argv)
    paths = environment()
    need_daemon(paths)
    conf = load_config(paths)
    members, nodelist = membership()
    view = statefile_view(conf)
    sys.stdout.buffer.write(livesetbuild.build(conf, members, nodelist, view).to_xml())
    return mtc.SUCCESS


def statefile_view(conf: xhadconf.XhadConfig) -> livesetbuild.StatefileView:
    """What this host can read of the statefile, errors included."""
    try:
        return livesetbuild.StatefileView(statefile.read(conf.statefile), True, False)
    except statefile.StatefileError:
        return livesetbuild.StatefileView(None, False, False)
    except statefile.StatefileCorrupt:
        return livesetbuild.StatefileView(None, True, True)


def propose_master(argv: typing.List[str]) -> int:
    """ha_propose_master: TRUE on exactly one host of the quorate partition."""
    parse_args(argv)
    paths = environment()
    need_daemon(paths)
    conf = load_config(paths)
    members, nodelist = membership()
    chosen = ""
    state = read_state(conf)
    if livesetbuild.has_quorum(members, nodelist, state.excluded):
        def record(state):
            state.master = livesetbuild.choose_master(conf, members, nodelist, state)
        chosen = update_state(conf, record).master
    sys.stdout.write("TRUE\n" if chosen == conf.local_host_id.lower() else "FALSE\n")
    return mtc.SUCCESS


def disarm_fencing(argv: typing.List[str]) -> int:
    """ha_disarm_fencing: the monitor stops acting on quorum loss."""
    parse_args(argv)
    paths = environment()
    if os.path.isdir(paths.dir):
        daemon.set_fencing(paths, "disarmed")
    return mtc.SUCCESS


def set_excluded(argv: typing.List[str]) -> int:
    """ha_set_excluded [-C FILE]: record this host as leaving cleanly; no fencing."""
    _state, given = parse_args(argv, config=True)
    paths = environment()
    conf = load_config(paths, given)
    update_state(conf, lambda s: s.excluded.append(conf.local_host_id.lower()))
    paths.make()
    daemon.set_fencing(paths, "excluded")
    return mtc.SUCCESS


def clear_excluded(argv: typing.List[str]) -> int:
    """ha_clear_excluded [-C FILE]: clear the mark; re-arm if exclusion disarmed us."""
    _state, given = parse_args(argv, config=True)
    paths = environment()
    conf = load_config(paths, given)
    me = conf.local_host_id.lower()
    update_state(conf, lambda s: setattr(s, "excluded", [h for h in s.excluded if h != me]))
    if daemon.fencing_mode(paths) == "excluded":
        daemon.set_fencing(paths, "armed")
    return mtc.SUCCESS


SCRIPTS = {
    "ha_set_pool_state": set_pool_state, "ha_start_daemon": start_daemon, "ha_stop_daemon": stop_daemon,
    "ha_query_liveset": query_liveset, "ha_propose_master": propose_master,
    "ha_disarm_fencing": disarm_fencing, "ha_set_excluded": set_excluded, "ha_clear_excluded": clear_excluded,
}


def main(script: str, argv: typing.List[str]) -> int:
    """Run ``script`` with ``argv``; its MTC exit code."""
    if script not in SCRIPTS:
        sys.stderr.write("%s: not a script of the corosync stack\n" % script)
        return mtc.INTERNAL_BUG
    try:
        return SCRIPTS[script](argv)
    except Failure as e:
        sys.stderr.write("%s: %s\n" % (script, e))
        return e.code
    except Exception as e:  # the interface promises an exit code, never a traceback
        sys.stderr.write("%s: internal error: %s: %s\n" % (script, type(e).__name__, e))
        return mtc.INTERNAL_BUG
