"""The fence monitor: while armed, a host that loses quorum fences itself.

``spawn`` starts it detached (own session, stdio on /dev/null) from
ha_start_daemon.  It polls corosync's quorum; when the fencing mode is
``armed`` and this host was quorate since it was armed, losing quorum (or
corosync dying under it) runs the fence action once and sets the mode to
``fenced``.  Quorum is counted as xhad counts it: hosts that left cleanly
(excluded in the statefile) count neither as live nor as expected, so the
last hosts of a pool shut down one by one do not fence.  A corosync that
hangs past the tools' timeout counts as gone.  ``disarmed`` and ``excluded`` (ha_disarm_fencing,
ha_set_excluded) keep it from acting, and so does a statefile whose pool
state is ``invalid`` (HA being disabled).  The fence action is the command in
SM_CLUSTERSTACK_FENCE_ACTION (given the reason in the environment
variable SM_CLUSTERSTACK_FENCE_REASON), or, when that is empty, an
immediate reboot through /proc/sysrq-trigger, as xhad's watchdog would.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
import typing

from sm_clusterstack import runner
from sm_clusterstack.corostack import daemon, livesetbuild, statefile, tools

POLL_INTERVAL = 0.25  # seconds between quorum checks
FENCE_TIMEOUT = 30.0  # seconds the fence command may take
CONFIRM_DELAY = 1.0  # seconds before a vanished corosync is taken as dead


def spawn(paths: daemon.Paths, statefile_path: str, fence_argv: typing.List[str]) -> int:
    """Start the monitor for ``paths`` in the background; its pid.

    Not through runner.run: the monitor must outlive this script.
    """
    argv = [sys.executable, "-m", "sm_clusterstack.corostack.monitor", paths.dir, statefile_path,
            "--"] + fence_argv
    with open(os.devnull, "r+b") as null:
        proc = subprocess.Popen(argv, stdin=null, stdout=null, stderr=null,
                                close_fds=True, start_new_session=True)
    daemon.write_atomic(paths.monitor_pid, "%d\n" % proc.pid)
    return proc.pid


def fence(paths: daemon.Paths, fence_argv: typing.List[str], reason: str) -> None:
    """Run the fence action, logging what it did."""
    _log(paths, "fencing: %s" % reason)
    if not fence_argv:
        with open("/proc/sysrq-trigger", "w") as trigger:
            trigger.write("b")
        return
    env = dict(os.environ, SM_CLUSTERSTACK_FENCE_REASON=reason)
    result = runner.run(fence_argv, timeout=FENCE_TIMEOUT, env=env)
    _log(paths, "fence action %s" % result.describe())


def quorate(run: typing.Callable[..., runner.Result] = runner.run,
            excluded: typing.Callable[[], typing.List[str]] = lambda: []) -> typing.Optional[bool]:
    """Whether this partition has quorum as HA counts it; None when corosync does not answer.

    When corosync says no, hosts that left cleanly (``excluded``, read from
    the statefile) are taken out of the count, as livesetbuild.has_quorum does.
    """
    try:
        membership = tools.query_membership(run)
        if membership.quorate:
            return True
        return livesetbuild.has_quorum(membership, tools.query_nodelist(run), excluded())
    except tools.DaemonAbsent:  # not running, or hanging past the tool's timeout
        return None
    except tools.ToolOutputError:
        return True  # an unreadable answer is no proof of lost quorum


def excluded_hosts(statefile_path: str) -> typing.List[str]:
    """The HostIDs the statefile records as excluded; [] when it cannot be read."""
    try:
        state = statefile.read(statefile_path)
    except (statefile.StatefileError, statefile.StatefileCorrupt):
        return []
    return list(state.excluded) if state is not None else []


def pool_invalid(statefile_path: str) -> bool:
    """True when the statefile says the pool state is invalid (HA being disabled).

    An unreadable or corrupt statefile is no such proof: fencing goes ahead.
    """
    try:
        state = statefile.read(statefile_path)
    except (statefile.StatefileError, statefile.StatefileCorrupt):
        return False
    return state is not None and state.pool_state == "invalid"


def step(paths: daemon.Paths, fence_argv: typing.List[str], was_quorate: bool,
         probe: typing.Callable[[], typing.Optional[bool]] = quorate,
         invalid: typing.Callable[[], bool] = lambda: False) -> bool:
    """One poll: fence when armed and quorum was had and is lost; the new was_quorate.

    No fencing once the pool state is invalid: xapi sets it first when it
    disables HA, and hosts then stop one by one.
    """
    if daemon.fencing_mode(paths) != "armed":
        return False
    now = probe()
    if now is None and was_quorate:
        time.sleep(CONFIRM_DELAY)  # corosync gone: make sure, and let a stop in progress disarm us
        now = probe()
    if now:
        return True
    if was_quorate and daemon.fencing_mode(paths) == "armed":
        if invalid():
            _log(paths, "quorum lost while the pool state is invalid: not fencing")
            daemon.set_fencing(paths, "disarmed")
            return False
        daemon.set_fencing(paths, "fenced")
        fence(paths, fence_argv, "corosync is not running" if now is None else "quorum lost")
    return False


def _log(paths: daemon.Paths, message: str) -> None:
    with open(paths.monitor_log, "a") as f:
        f.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), message))


def _set_name() -> None:
    try:
        ctypes.CDLL(None).prctl(15, daemon.MONITOR_COMM.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def main(argv: typing.List[str]) -> int:
    """Monitor until SIGTERM: ``DIR STATEFILE -- FENCE_ARGV...``."""
    if len(argv) < 3 or argv[2] != "--":
        sys.stderr.write("usage: monitor DIR STATEFILE -- [FENCE COMMAND...]\n")
        return 2
    paths, statefile_path, fence_argv = daemon.Paths(argv[0]), argv[1], argv[3:]
    _set_name()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _log(paths, "monitor started (pid %d)" % os.getpid())
    was_quorate = False
    while True:
        was_quorate = step(paths, fence_argv, was_quorate,
                           probe=lambda: quorate(excluded=lambda: excluded_hosts(statefile_path)),
                           invalid=lambda: pool_invalid(statefile_path))
        time.sleep(POLL_INTERVAL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
