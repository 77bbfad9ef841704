"""What every script of the corosync-ha stack takes from outside, checked.

Arguments, the settings file, xhad.conf, the statefile, corosync's tools
and the running daemon: each bad value becomes a Failure carrying the MTC
exit code xhad would give (REFERENCE.md section 4) and one line for stderr.
"""

import typing

from sm_clusterstack.config import ConfigError
from sm_clusterstack.corostack import daemon, find_tool, settings, statefile, timing, view
from sm_clusterstack.stacks import mtc, xhadconf
from sm_clusterstack.xmlsafe import XMLFormatError

ENGINE_TOOLS = ("corosync", "corosync-quorumtool", "corosync-cmapctl", "unshare", "mount")


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
        if arg in ("-C", "-c") and config and args and not conf_path:
            conf_path = args.pop(0)
        elif arg in choices and not positional:
            positional = arg
        else:
            raise Failure(mtc.INVALID_PARAMETER, "unexpected argument %r" % arg)
    if choices and not positional:
        raise Failure(mtc.INVALID_PARAMETER, "expected one of: %s" % " ".join(choices))
    return positional, conf_path


def environment() -> typing.Tuple[settings.Settings, daemon.Paths]:
    """The host's settings and runtime paths, once corosync is known installed (Failure 16)."""
    try:
        config = settings.load(settings.DEFAULT_PATH)
    except ConfigError as e:
        raise Failure(mtc.INVALID_ENVIRONMENT, str(e))
    missing = [t for t in ENGINE_TOOLS if find_tool(t) is None]
    if missing:
        raise Failure(mtc.INVALID_ENVIRONMENT, "corosync is not installed (missing %s)" % ", ".join(missing))
    return config, daemon.Paths(config.runtime_dir, config.log_file)


def load_config(given: str = "", path: str = "") -> xhadconf.XhadConfig:
    """The xhad.conf given with -C, else /etc/xensource/xhad.conf (Failure 6 or 7)."""
    path = path or given or xhadconf.DEFAULT_PATH
    try:
        conf = xhadconf.load(path)
        timing.of_parameters(conf.parameters)
    except OSError as e:
        raise Failure(mtc.CAN_NOT_READ_CONFIG_FILE, "cannot read %s: %s" % (path, e.strerror or e))
    except (XMLFormatError, ValueError) as e:
        raise Failure(mtc.INVALID_CONFIG_FILE, "%s: %s" % (path, e))
    return conf


def daemon_config(paths: daemon.Paths) -> xhadconf.XhadConfig:
    """The xhad.conf the daemon runs with: its copy as data, else (a daemon of an older start) the XML."""
    data = daemon.read_json(paths.xhad_data)
    if data is None:
        return load_config(path=paths.xhad_conf)
    try:
        return xhadconf.from_dict(data)
    except XMLFormatError as e:
        raise Failure(mtc.INVALID_CONFIG_FILE, "%s: %s" % (paths.xhad_data, e))


def _statefile_call(conf: xhadconf.XhadConfig, call: typing.Callable[[], typing.Any]) -> typing.Any:
    try:
        return call()
    except statefile.StatefileError as e:
        raise Failure(mtc.CAN_NOT_ACCESS_STATEFILE, str(e))
    except statefile.StatefileCorrupt as e:
        raise Failure(mtc.INVALID_STATE_FILE, "%s: %s" % (conf.statefile, e))


def read_state(conf: xhadconf.XhadConfig) -> statefile.PoolState:
    """The statefile's pool record, checked against ``conf`` (Failure 8/9/10/11)."""
    return check_state(conf, _statefile_call(conf, lambda: statefile.read(conf.statefile)))


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
    """Apply ``change`` to the initialised pool record under the statefile's lock (Failure 8-11)."""
    def apply(old):
        state = check_state(conf, old)
        change(state)
        return state
    return _statefile_call(conf, lambda: statefile.update(conf.statefile, apply))


def initialise(conf: xhadconf.XhadConfig) -> None:
    """A fresh statefile for this generation: pool state init, no master, nobody excluded."""
    _statefile_call(conf, lambda: statefile.initialise(
        conf.statefile, statefile.PoolState(conf.generation_uuid, "init")))


def running(paths: daemon.Paths) -> bool:
    """True when any process of this host's daemon runs."""
    return any(pid is not None for pid in
               (daemon.corosync_pid(paths), daemon.monitor_pid(paths), daemon.guard_pid(paths)))


def need_daemon(paths: daemon.Paths) -> typing.Tuple[view.View, xhadconf.XhadConfig]:
    """The live monitor's view and the xhad.conf it runs with; Failure 14 if it cannot vouch for this host.

    A host whose monitor is gone or hung, whose armed guard is gone, or
    that is fencing or fenced, could not fence or is being fenced: it
    never reports itself healthy.  A daemon that saw the pool state
    invalid (``disabled``) is shutting down: like xhad's, it answers no more.
    """
    if daemon.corosync_pid(paths) is None or daemon.monitor_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "the corosync-ha daemon does not run (%s)" % paths.dir)
    conf = daemon_config(paths)
    found = view.read(paths, timing.of_parameters(conf.parameters).view_stale)
    if found is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "the monitor of %s has published nothing lately" % paths.dir)
    if found.state in ("fencing", "fenced", "disabled"):
        failed = "; its fence failed %d times" % found.fence_failures if found.fence_failures else ""
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "this host is %s: %s%s" % (found.state, found.reason, failed))
    if daemon.fencing_mode(paths) == "armed" and daemon.guard_pid(paths) is None:
        raise Failure(mtc.DAEMON_IS_NOT_PRESENT, "the fence guard of %s is gone: this host cannot fence"
                      % paths.dir)
    return found, conf
