"""The scripts of the corosync stack: ``main(script, argv)`` runs one.

Arguments, exit codes and output follow REFERENCE.md section 4; every
failure is an MTC exit code with one line on stderr, never a traceback.
Scripts given ``-C FILE`` record that path in the runtime directory, and
scripts without it read the xhad.conf recorded there (else the default).
"""

import os
import re
import sys
import typing

from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import daemon, find_tool, livesetbuild, monitor, runtime_dir
from sm_clusterstack.corostack import FENCE_ENV, fence_action, statefile, tools
from sm_clusterstack.stacks import mtc, xhadconf
from sm_clusterstack.xmlsafe import XMLFormatError

ENGINE_TOOLS = ("corosync", "corosync-quorumtool", "corosync-cmapctl")
DEFAULT_JOIN_TIMEOUT = 30  # seconds ha_start_daemon waits without a BootJoinTimeout
_SAFE_DIR = re.compile(r"/[A-Za-z0-9/._-]*\Z")


class Failure(Exception):
    """End the script with MTC exit ``code``; the text goes to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super(Failure, self).__init__(message)
        self.code = code


def parse_args(argv: typing.List[str], choices: typing.Sequence[str] = (),
               config: bool = False) -> typing.Tuple[str, str]:
    """(the one positional of ``choices`` or "", the -C FILE or ""); Failure 1 otherwise."""
    positional, conf_path = "", ""
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-C" and config and args and not conf_path:
            conf_path = args.pop(0)
        elif arg in choices and not positional:
            positional = arg
        else:
            raise Failure(mtc.INVALID_PARAMETER, "unexpected argument %r" % arg)
    if choices and not positional:
        raise Failure(mtc.INVALID_PARAMETER, "expected one of: %s" % " ".join(choices))
    return positional, conf_path


def environment() -> daemon.Paths:
    """The runtime paths, after checking corosync is installed (Failure 16 if not)."""
    missing = [t for t in ENGINE_TOOLS if find_tool(t) is None]
    if missing:
        raise Failure(mtc.INVALID_ENVIRONMENT, "corosync is not installed (missing %s)" % ", ".join(missing))
    directory = runtime_dir()
    if not _SAFE_DIR.match(directory):
        raise Failure(mtc.INVALID_ENVIRONMENT, "runtime directory %r has unsafe characters" % directory)
    return daemon.Paths(directory)


def load_config(paths: daemon.Paths, given: str = "") -> xhadconf.XhadConfig:
    """The xhad.conf given, else the recorded one, else the default (Failure 6/7)."""
    path = given or daemon.read_small(paths.xhad_conf_path) or xhadconf.DEFAULT_PATH
    try:
        conf = xhadconf.load(path)
    except OSError as e:
        raise Failure(mtc.CAN_NOT_READ_CONFIG_FILE, "cannot read %s: %s" % (path, e.strerror or e))
    except XMLFormatError as e:
        raise Failure(mtc.INVALID_CONFIG_FILE, str(e))
    if given:
        paths.make()
        daemon.write_atomic(paths.xhad_conf_path, os.path.abspath(given) + "\n")
    return conf


def read_state(conf: xhadconf.XhadConfig, need: bool = True) -> typing.Optional[statefile.PoolState]:
    """The statefile's state, checked against ``conf`` (Failure 8/9/10/11)."""
    try:
        state = statefile.read(conf.statefile)
    except statefile.StatefileError as e:
        raise Failure(mtc.CAN_NOT_ACCESS_STATEFILE, str(e))
    except statefile.StatefileCorrupt as e:
        raise Failure(mtc.INVALID_STATE_FILE, "%s: %s" % (conf.statefile, e))
    return check_state(conf, state) if need else state


def check_state(conf: xhadconf.XhadConfig, state: typing.Optional[statefile.PoolState]) -> statefile.PoolState:
    """``state`` if initialised for this generation (Failure 10/11 otherwise)."""
    if state is None:
        raise Failure(mtc.INVALID_POOL_STATE, "statefile %s is blank: run ha_set_pool_state init" % conf.statefile)
    if state.generation != conf.generation_uuid.lower():
        raise Failure(mtc.GENERATION_UUID_MISMATCH, "statefile generation %s, xhad.conf generation %s"
                      % (state.generation, conf.generation_uuid))
    return state


def update_state(conf: xhadconf.XhadConfig,
                 change: typing.Callable[[statefile.PoolState], None]) -> statefile.PoolState:
    """Apply ``change`` to the initialised statefile under its lock (Failure 8-11)."""
    def apply(old):
        state = check_state(conf, old)
        change(state)
        return state
    try:
        return statefile.update(conf.statefile, apply)
    except statefile.StatefileError as e:
        raise Failure(mtc.CAN_NOT_ACCESS_STATEFILE, str(e))
    except statefile.StatefileCorrupt as e:
        raise Failure(mtc.INVALID_STATE_FILE, "%s: %s" % (conf.statefile, e))


def need_daemon(paths: daemon.Paths) -> None:
    """Failure 14 unless this host's corosync runs."""
    if daemon.corosync_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "corosync does not run for %s" % paths.dir)


def membership() -> typing.Tuple[tools.Membership, typing.Dict[int, str]]:
    """This partition and corosync's nodelist (Failure 14 or 2)."""
    try:
        return tools.query_membership(), tools.query_nodelist()
    except tools.DaemonAbsent as e:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, str(e))
    except tools.ToolOutputError as e:
        raise Failure(mtc.SYSTEM_ERROR, str(e))


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
    if daemon.corosync_pid(paths) is not None or daemon.monitor_pid(paths) is not None:
        raise Failure(mtc.DAEMON_IS_PRESENT, "corosync or its monitor already runs for %s" % paths.dir)
    state = read_state(conf)
    if state.pool_state == "invalid":
        raise Failure(mtc.INVALID_POOL_STATE, "pool state is invalid")
    if conf.local_host_id.lower() in state.excluded:
        raise Failure(mtc.BOOT_BLOCKED_BY_EXCLUDED, "this host is excluded: run ha_clear_excluded")
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


def write_corosync_conf(paths: daemon.Paths, conf: xhadconf.XhadConfig) -> None:
    """Generate corosync.conf and have corosync check it (Failure 7)."""
    paths.make()
    try:
        daemon.write_atomic(paths.corosync_conf, coroconf.render(conf, paths.dir))
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
    if members.quorate:
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
