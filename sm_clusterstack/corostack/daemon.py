"""Running corosync and the fence monitor for one host.

Everything lives in the runtime directory (the settings' ``runtime-dir``):
the generated corosync.conf, corosync's pid file and state dir, the pid
files of the monitor and the fence guard, the fencing mode, the monitor's
published view and the xhad.conf the daemon runs with.  Logs go to the
settings' ``log-file`` (and corosync's beside it).  corosync 3 always locks
``/var/run/corosync.pid``; so that several hosts (network namespaces) can
share a machine, corosync starts in a private mount namespace where our
own pid file is bind-mounted over that path (``launch``); nothing of it
propagates back to the host's mounts.  Its IPC
sockets are abstract unix sockets, private to each network namespace.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import typing

from sm_clusterstack import atomicfile, runner
from sm_clusterstack.corostack import find_tool
from sm_clusterstack.digits import is_digits

COROSYNC_LOCK = "/var/run/corosync.pid"
STOP_TIMEOUT = 15.0  # seconds for corosync to leave the membership on SIGTERM
START_TIMEOUT = 20.0  # seconds for corosync to write its pid
MONITOR_COMM = "smcs-monitor"
GUARD_COMM = "smcs-guard"
FENCING_MODES = ("unarmed", "armed", "disarmed", "fencing", "fenced")


class DaemonError(Exception):
    """corosync or the monitor would not start or stop (MTC 2)."""


class Paths(object):
    """The files of one host's runtime directory and logs (from its settings)."""

    def __init__(self, directory: str, log_file: str = "") -> None:
        self.dir = directory
        self.corosync_conf = os.path.join(directory, "corosync.conf")
        self.corosync_pid = os.path.join(directory, "corosync.pid")
        self.state_dir = os.path.join(directory, "state")
        self.monitor_pid = os.path.join(directory, "monitor.pid")
        self.guard_pid = os.path.join(directory, "guard.pid")
        self.fencing = os.path.join(directory, "fencing")
        self.view = os.path.join(directory, "view.json")
        self.xhad_conf = os.path.join(directory, "xhad.conf")
        self.xhad_data = os.path.join(directory, "xhad.json")  # the same, as data: the daemons parse no XML
        self.log_file = log_file or os.path.join(directory, "corosync-ha.log")
        self.corosync_log = os.path.splitext(self.log_file)[0] + ".corosync.log"

    def make(self) -> None:
        """Create the directory and corosync's state dir, private to root, and the log directory."""
        for path in (self.dir, self.state_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        os.makedirs(os.path.dirname(self.log_file), mode=0o755, exist_ok=True)


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (temporary file and rename)."""
    atomicfile.write(path, text, suffix=_own_suffix(), sync=True)


def _own_suffix() -> str:
    """This process's temporary suffix: the scripts and the monitor may write one file at once."""
    return "%s.%d" % (atomicfile.SUFFIX, os.getpid())


def read_small(path: str) -> str:
    """The stripped text of a small runtime file, "" when absent."""
    try:
        with open(path) as f:
            return f.read(4096).strip()
    except FileNotFoundError:
        return ""


def live_pid(pid_file: str, *comms: str) -> typing.Optional[int]:
    """The pid in ``pid_file`` if that process runs (not a zombie) and is one of ``comms``."""
    text = read_small(pid_file)
    if not is_digits(text) or int(text) <= 1:
        return None
    try:
        with open("/proc/%s/stat" % text) as f:
            fields = f.read().rsplit(")", 1)
        name = fields[0].split("(", 1)[1]
    except (OSError, IndexError):
        return None
    if fields[1].split()[0] in ("Z", "X") or not any(name.startswith(c[:15]) for c in comms):
        return None
    return int(text)


def corosync_pid(paths: Paths) -> typing.Optional[int]:
    """The pid of this host's corosync, None when it does not run."""
    return live_pid(paths.corosync_pid, "corosync")


def _ours(pid: typing.Optional[int], module: str, paths: Paths) -> typing.Optional[int]:
    """``pid`` if it runs ``module`` for this very runtime directory (not a recycled pid)."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    return pid if module.encode() in argv and os.fsencode(paths.dir) in argv else None


def monitor_pid(paths: Paths) -> typing.Optional[int]:
    """The pid of this host's monitor, None when it does not run."""
    return _ours(live_pid(paths.monitor_pid, MONITOR_COMM, "python"), "sm_clusterstack.corostack.monitor", paths)


def guard_pid(paths: Paths) -> typing.Optional[int]:
    """The pid of this host's fence guard, None when it does not run."""
    return _ours(live_pid(paths.guard_pid, GUARD_COMM, "python"), "sm_clusterstack.corostack.guard", paths)


def check_config(paths: Paths, run: typing.Callable[..., runner.Result] = runner.run) -> None:
    """Ask corosync to test the generated corosync.conf; ValueError saying why not."""
    result = run([corosync_binary(), "-t", "-c", paths.corosync_conf], timeout=30)
    if not result.ok:
        reason = (result.stderr + result.stdout).strip() or result.describe()
        raise ValueError("corosync rejects %s: %s" % (paths.corosync_conf, reason[-400:]))


def corosync_binary() -> str:
    """The corosync executable (DaemonError if absent)."""
    path = find_tool("corosync")
    if path is None:
        raise DaemonError("corosync is not installed")
    return path


def start_corosync(paths: Paths, run: typing.Callable[..., runner.Result] = runner.run) -> int:
    """Start corosync on ``paths.corosync_conf`` and return its pid once it runs."""
    if not os.path.exists(COROSYNC_LOCK):
        open(COROSYNC_LOCK, "a").close()  # the bind mount needs a file to cover
    with open(paths.corosync_pid, "w"):
        pass
    unshare = find_tool("unshare")
    if unshare is None:
        raise DaemonError("unshare (util-linux) is not installed")
    argv = [unshare, "--mount", "--", sys.executable, "-m",
            "sm_clusterstack.corostack.launch", paths.corosync_pid, COROSYNC_LOCK,
            corosync_binary(), paths.corosync_conf]
    result = run(argv, timeout=START_TIMEOUT)
    if not result.ok:
        raise DaemonError("corosync did not start: %s" % result.describe())
    pid = wait_for(lambda: corosync_pid(paths), START_TIMEOUT)
    if pid is None:
        raise DaemonError("corosync did not start; see %s" % paths.corosync_log)
    return pid


def wait_for(probe: typing.Callable[[], typing.Any], timeout: float, interval: float = 0.1) -> typing.Any:
    """Call ``probe`` until it returns a true value or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def stop_process(pid_of: typing.Callable[[], typing.Optional[int]], timeout: float) -> bool:
    """SIGTERM the process ``pid_of`` names, SIGKILL after ``timeout``; True if one ran."""
    pid = pid_of()
    if pid is None:
        return False
    _signal(pid, signal.SIGTERM)
    if wait_for(lambda: pid_of() is None, timeout):
        return True
    _signal(pid, signal.SIGKILL)
    if not wait_for(lambda: pid_of() is None, 5.0):
        raise DaemonError("process %d would not die" % pid)
    return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def fencing_mode(paths: Paths) -> str:
    """unarmed (not yet online; also when never set), armed, disarmed (sticky), fencing or fenced."""
    mode = read_small(paths.fencing)
    return mode if mode in FENCING_MODES else "unarmed"


def set_fencing(paths: Paths, mode: str) -> None:
    """Record the fencing mode the monitor obeys."""
    assert mode in FENCING_MODES
    write_atomic(paths.fencing, mode + "\n")


def spawn(module: str, args: typing.List[str], pass_fds: typing.Sequence[int] = ()) -> int:
    """Start ``python -m module args`` detached (own session, stdio on /dev/null); its pid.

    Not through runner.run: the daemon must outlive the script.
    """
    argv = [sys.executable, "-m", module] + list(args)
    with open(os.devnull, "r+b") as null:
        proc = subprocess.Popen(argv, stdin=null, stdout=null, stderr=null, close_fds=True,
                                pass_fds=tuple(pass_fds), start_new_session=True)
    return proc.pid


def set_process_name(name: str) -> None:
    """Name this process (ps, /proc/PID/comm) so its pid file is not taken for another's."""
    try:
        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def write_json(path: str, obj: typing.Any) -> None:
    """Replace ``path`` with ``obj`` as JSON (temporary file and rename, no fsync: tmpfs)."""
    atomicfile.write(path, json.dumps(obj, sort_keys=True), suffix=_own_suffix())


def read_json(path: str) -> typing.Any:
    """The JSON in ``path``; None when absent or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
