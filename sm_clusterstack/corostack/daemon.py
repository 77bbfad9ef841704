"""Running corosync and the fence monitor for one host.

Everything lives in the runtime directory (``runtime_dir()``): the
generated corosync.conf, corosync's pid file, log and state dir, the
monitor's pid file and the fencing mode.  corosync 3 always locks
``/var/run/corosync.pid``; so that several hosts (network namespaces) can
share a machine, corosync starts in a private mount namespace where our
own pid file is bind-mounted over that path (``launch``); nothing of it
propagates back to the host's mounts.  Its IPC
sockets are abstract unix sockets, private to each network namespace.
"""

import os
import signal
import sys
import time
import typing

from sm_clusterstack import runner
from sm_clusterstack.corostack import find_tool
from sm_clusterstack.digits import is_digits

COROSYNC_LOCK = "/var/run/corosync.pid"
STOP_TIMEOUT = 15.0  # seconds for corosync to leave the membership on SIGTERM
START_TIMEOUT = 20.0  # seconds for corosync to write its pid
MONITOR_COMM = "smcs-fencemon"
FENCING_MODES = ("armed", "disarmed", "excluded", "fenced")


class DaemonError(Exception):
    """corosync or the monitor would not start or stop (MTC 2)."""


class Paths(object):
    """The files of one host's runtime directory."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.corosync_conf = os.path.join(directory, "corosync.conf")
        self.corosync_pid = os.path.join(directory, "corosync.pid")
        self.corosync_log = os.path.join(directory, "corosync.log")
        self.state_dir = os.path.join(directory, "state")
        self.monitor_pid = os.path.join(directory, "monitor.pid")
        self.monitor_log = os.path.join(directory, "monitor.log")
        self.fencing = os.path.join(directory, "fencing")
        self.xhad_conf_path = os.path.join(directory, "xhad-conf-path")

    def make(self) -> None:
        """Create the directory and corosync's state dir, private to root."""
        for path in (self.dir, self.state_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (temporary file and rename)."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


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


def monitor_pid(paths: Paths) -> typing.Optional[int]:
    """The pid of this host's fence monitor, None when it does not run.

    A recycled pid is not taken for the monitor: the process must be the
    monitor module run for this very runtime directory.
    """
    pid = live_pid(paths.monitor_pid, MONITOR_COMM, "python")
    if pid is None:
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if b"sm_clusterstack.corostack.monitor" not in argv or os.fsencode(paths.dir) not in argv:
        return None
    return pid


def check_config(paths: Paths, run: typing.Callable[..., runner.Result] = runner.run) -> None:
    """Ask corosync to test the generated corosync.conf; ValueError saying why not."""
    result = run([corosync_binary(), "-t", "-c", paths.corosync_conf], timeout=30)
    if not result.ok:
        reason = (result.stderr + result.stdout).strip() or log_tail(paths) or result.describe()
        raise ValueError("corosync rejects %s: %s" % (paths.corosync_conf, reason[-400:]))


def log_tail(paths: Paths, lines: int = 2) -> str:
    """The last ``lines`` lines of corosync's log, joined; "" when there is none."""
    try:
        with open(paths.corosync_log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return ""
    return " / ".join(line.strip() for line in tail)


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
    """armed, disarmed, excluded or fenced ("disarmed" when never set)."""
    mode = read_small(paths.fencing)
    return mode if mode in FENCING_MODES else "disarmed"


def set_fencing(paths: Paths, mode: str) -> None:
    """Record the fencing mode the monitor obeys."""
    assert mode in FENCING_MODES
    write_atomic(paths.fencing, mode + "\n")
