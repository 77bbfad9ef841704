"""A command's whole process tree, ``setsid`` children included: one cgroup per run.

A process can leave its process group and its session (``setsid``), and
a double fork leaves its parent; it cannot leave its cgroup (only a
process with write access to another cgroup's ``cgroup.procs`` can move
it).  So ``runner.run`` starts every command with ``Tree.join`` as its
``preexec_fn``: between fork and exec the child writes "0" (itself) to
the run's ``cgroup.procs``, with nothing but ``os.open``/``os.write`` (no
lock another thread could hold), so the command runs no instruction of
its own outside it.  (A ``/bin/sh`` wrapper would do the same but add
``PWD``, and bash ``SHLVL`` and ``_``, to the environment xapi gives a
script: PATH only.)
``Tree.kill`` ends every member: ``cgroup.kill`` where the kernel has it
(cgroup v2, Linux 5.14), else SIGKILL to each member until none is left.

The run's cgroup is ``<hierarchy>/<this process's cgroup>/sm-clusterstack.<pid>/run-<n>``:
under our own, so that whatever supervises us (systemd stopping the
service) still reaches the runs' processes.  The hierarchy is cgroup v2
where it is mounted (``/sys/fs/cgroup`` or ``/sys/fs/cgroup/unified``),
else cgroup v1's ``pids`` or ``freezer`` hierarchy (never systemd's
``name=systemd``, which tracks its units).  A run that ended normally
may leave members on purpose (the daemon ``ha_start_daemon`` starts):
they stay where they are, and the cgroup is removed once it is empty
(``sweep``).  Where no hierarchy can be written (a container without
delegation) a tree is the command's process group only, and
``mechanism()`` says so (``serve`` logs it at start): a ``setsid`` child
then escapes a kill.

``pipe_holders`` finds the processes that hold a pipe open (by its inode
in ``/proc/<pid>/fd``): a descendant that keeps a command's output open
after the command exited.
"""

import atexit
import itertools
import os
import signal
import threading
import time
import typing

PROC = "/proc"
MOUNTINFO = "/proc/self/mountinfo"
V1_HIERARCHIES = ("pids", "freezer")  # v1 controllers whose hierarchy may hold our runs
DIR_PREFIX = "sm-clusterstack."
KILL_TIMEOUT = 10.0  # seconds for a killed tree to be empty

_LOCK = threading.Lock()
_COUNTER = itertools.count(1)
_ACTIVE = set()  # type: typing.Set[Tree]  # the trees of runs in progress (from new() to close())
_STATE = {}  # type: typing.Dict[str, typing.Any]  # "base": our runs' directory ("" when none), "left": set


def _mounts() -> typing.List[typing.Tuple[str, str, str]]:
    """(mount point, fs type, super options) of each cgroup mount."""
    found = []
    try:
        with open(MOUNTINFO) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if len(fields) > 4 and len(tail) > 2 and tail[0] in ("cgroup", "cgroup2"):
                    found.append((fields[4], tail[0], tail[2]))
    except OSError:
        pass
    return found


def _own_path(version: str, controller: str) -> typing.Optional[str]:
    """This process's cgroup in the v2 hierarchy (``version`` "2") or the v1 one of ``controller``."""
    try:
        with open(os.path.join(PROC, "self", "cgroup")) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if (version == "2" and parts[0] == "0" and parts[1] == "") or \
                (version == "1" and controller in parts[1].split(",")):
            return parts[2]
    return None


def _candidates() -> typing.List[str]:
    """Where our runs' cgroups could go, best first."""
    found = []
    for point, kind, options in _mounts():
        if kind == "cgroup2":
            own = _own_path("2", "")
            if own is not None:
                found.insert(0, os.path.join(point, own.lstrip("/")))
    for point, kind, options in _mounts():
        for controller in V1_HIERARCHIES:
            if kind == "cgroup" and controller in options.split(","):
                own = _own_path("1", controller)
                if own is not None:
                    found.append(os.path.join(point, own.lstrip("/")))
    return found


def _base() -> str:
    """Our runs' directory, made on first use ("" when no cgroup hierarchy can be written)."""
    with _LOCK:
        if "base" not in _STATE:
            _STATE["left"] = set()
            _STATE["base"] = _make_base()
        return _STATE["base"]


def _make_base() -> str:
    for parent in _candidates():
        base = os.path.join(parent, DIR_PREFIX + str(os.getpid()))
        try:
            os.makedirs(base, exist_ok=True)
        except OSError:
            continue
        if os.path.exists(os.path.join(base, "cgroup.procs")):
            _sweep_dead(parent)
            atexit.register(_remove_base, base)
            return base
    return ""


def mechanism() -> str:
    """How a run's tree is found and killed here, in one line (``serve`` logs it)."""
    base = _base()
    if not base:
        return "process group only (no writable cgroup hierarchy: a setsid child escapes a kill)"
    how = "cgroup.kill" if os.path.exists(os.path.join(base, "cgroup.kill")) else "SIGKILL to each member"
    return "a cgroup per run under %s (killed by %s)" % (base, how)


class Tree(object):
    """The cgroup of one run (``path`` "" where there is none: the process group is the tree)."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self.leader = 0  # pid of the command, once started

    @classmethod
    def new(cls) -> "Tree":
        """A fresh cgroup for a run about to start (a run in progress until ``close``)."""
        tree = cls(_new_cgroup())
        with _LOCK:
            _ACTIVE.add(tree)
        return tree

    def preexec(self) -> typing.Optional[typing.Callable[[], None]]:
        """The ``preexec_fn`` that moves the child into this cgroup (None without a cgroup).

        It fails the spawn (an OSError from Popen) when the move fails.
        """
        if not self.path:
            return None
        procs = os.fsencode(os.path.join(self.path, "cgroup.procs"))

        def join() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        return join

    def members(self) -> typing.List[int]:
        """The pids in the tree (the leader's process group where there is no cgroup)."""
        if not self.path:
            return _group_members(self.leader) if self.leader else []
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(word) for word in f.read().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """SIGKILL every member and wait (up to KILL_TIMEOUT) until none is left."""
        deadline = time.monotonic() + KILL_TIMEOUT
        kill_file = os.path.join(self.path, "cgroup.kill") if self.path else ""
        while True:
            if kill_file and os.path.exists(kill_file):
                _write(kill_file, "1")
            elif not self.path and self.leader:
                _killpg(self.leader)
            for pid in self.members():
                _kill(pid)
            if not self.members() or time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def close(self) -> None:
        """The run ended: remove the cgroup if it is empty; otherwise (a daemon left running) later (``sweep``)."""
        with _LOCK:
            _ACTIVE.discard(self)
        if self.path and not _rmdir(self.path):
            with _LOCK:
                _STATE["left"].add(self.path)


def _new_cgroup() -> str:
    """A new run's cgroup ("" where there is none)."""
    base = _base()
    if not base:
        return ""
    sweep()
    for _ in range(100):
        path = os.path.join(base, "run-%d" % next(_COUNTER))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
        except OSError:
            break
    return ""


def in_a_run(pid: int) -> bool:
    """True when ``pid`` belongs to a run in progress of this process (its tree, a ``setsid`` child too).

    Where there is no cgroup, a run's tree is its leader's process group.
    """
    with _LOCK:
        active = list(_ACTIVE)
    for tree in active:
        if tree.path and pid in tree.members():
            return True
        if not tree.path and tree.leader:
            try:
                if os.getpgid(pid) == tree.leader:
                    return True
            except OSError:
                return False
    return False


def sweep() -> None:
    """Remove the cgroups of ended runs whose members have all exited since."""
    with _LOCK:
        left = set(_STATE.get("left", ()))
    for path in left:
        if _rmdir(path) or not os.path.isdir(path):
            with _LOCK:
                _STATE["left"].discard(path)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def _sweep_dead(parent: str) -> None:
    """Remove the empty run cgroups of processes of ours that are gone (a cgroup with members stays)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        pid = name[len(DIR_PREFIX):]
        if name.startswith(DIR_PREFIX) and pid.isdigit() and not os.path.exists(os.path.join(PROC, pid)):
            _remove_base(os.path.join(parent, name))


def _remove_base(base: str) -> None:
    try:
        runs = [os.path.join(base, n) for n in os.listdir(base) if n.startswith("run-")]
    except OSError:
        return
    for run in runs:
        _rmdir(run)
    _rmdir(base)


def _group_members(pgid: int) -> typing.List[int]:
    found = []
    for pid, stat in _stats():
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            found.append(pid)
    return found


def _stats() -> typing.Iterator[typing.Tuple[int, bytes]]:
    for name in os.listdir(PROC):
        if name.isdigit():
            try:
                with open(os.path.join(PROC, name, "stat"), "rb") as f:
                    yield int(name), f.read()
            except OSError:
                continue


def pipe_holders(inodes: typing.Iterable[int]) -> typing.List[int]:
    """The processes with a file descriptor on one of the pipes of ``inodes``, but this one and its children.

    A child of this process holds every descriptor of it between its fork
    and its exec (where close_fds closes them): another run starting in
    another thread, never a holder of this run's output once it runs its
    command (this run's own child has exited when its holders are looked for).
    """
    wanted = {"pipe:[%d]" % inode for inode in inodes}
    own = os.getpid()
    found = []
    for name in os.listdir(PROC):
        if not name.isdigit() or int(name) == own or _parent(int(name)) == own:
            continue
        fd_dir = os.path.join(PROC, name, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return found


def _parent(pid: int) -> typing.Optional[int]:
    """The parent pid of ``pid`` (None when it is gone)."""
    try:
        with open(os.path.join(PROC, str(pid), "stat")) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid: int) -> str:
    """Process ``pid``'s command line, for a message ("?" when it is gone)."""
    try:
        with open(os.path.join(PROC, str(pid), "cmdline"), "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:200] or "?"
    except OSError:
        return "?"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass
