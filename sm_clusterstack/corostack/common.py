"""What every script of the corosync stack takes from outside, checked.

Arguments, the environment, xhad.conf, the statefile and corosync's tools:
each bad value becomes a Failure carrying the MTC exit code of REFERENCE.md
section 4 and one line for stderr.
"""

import os
import re
import typing

from sm_clusterstack.corostack import daemon, find_tool, runtime_dir, statefile, tools
from sm_clusterstack.stacks import mtc, xhadconf
from sm_clusterstack.xmlsafe import XMLFormatError

ENGINE_TOOLS = ("corosync", "corosync-quorumtool", "corosync-cmapctl")
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
    """Failure 14 unless this host's corosync runs, and its fence monitor too while armed.

    An armed host whose monitor died has no fencing left: reporting the HA
    daemon absent, rather than a healthy liveset, lets xapi see it.
    """
    if daemon.corosync_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "corosync does not run for %s" % paths.dir)
    if daemon.fencing_mode(paths) == "armed" and daemon.monitor_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "the fence monitor of %s is gone: this host cannot fence"
                      % paths.dir)


def membership() -> typing.Tuple[tools.Membership, typing.Dict[int, str]]:
    """This partition and corosync's nodelist (Failure 14 or 2)."""
    try:
        return tools.query_membership(), tools.query_nodelist()
    except tools.DaemonAbsent as e:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, str(e))
    except tools.ToolOutputError as e:
        raise Failure(mtc.SYSTEM_ERROR, str(e))
