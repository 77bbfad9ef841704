"""The one command runner: argv list, timeout, output captured up to a cap.

It never raises on a non-zero exit: callers read ``Result.returncode`` and
interpret it next to a comment that says what each code means.  A command
that does not exist gives returncode 127 (as a shell would), one killed at
its timeout gives ``timed_out`` True and returncode None, one that printed
more than its cap (``OUTPUT_CAPS``) ``overflow`` (the stream) and
returncode None.  A run's whole process tree is its cgroup
(``proctree``): a timeout or an overflow kills all of it.
"""

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
import typing

from sm_clusterstack import proctree

LOG = logging.getLogger("sm_clusterstack.runner")
DEFAULT_TIMEOUT = 60.0  # seconds
# Bytes of output a command may print: stdout carries answers (a liveset, an SMAPI response, both
# refused past 16 MiB by their parsers), stderr only diagnostics.  More is an error; the run is killed.
OUTPUT_CAPS = {"stdout": 16 * 1024 * 1024, "stderr": 1024 * 1024}
OVERFLOW_KEPT = 64 * 1024  # bytes of an overflowing stream kept (its tail), for the message
LINGER_GRACE = 0.5  # seconds after the command's exit for its output to close before the holders are killed
DRAIN_TIMEOUT = 5.0  # seconds to read what is left once the tree is dead
POLL_INTERVAL = 0.25  # seconds between checks for an exit while the output is still open
READ_SIZE = 65536
_OBSERVER = threading.local()  # .callback: observe_spawns' callback for this thread


class Result(object):
    """What a command did: exit status, output, and whether it timed out."""

    __slots__ = ("argv", "returncode", "stdout", "stderr", "timed_out", "overflow", "ended", "where")

    def __init__(
            self,
            argv: typing.List[str],
            returncode: typing.Optional[int],
            stdout: str,
            stderr: str,
            timed_out: bool = False,
            overflow: str = "",
            ended: typing.Sequence[typing.Tuple[int, str]] = (),
            where: str = "",
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.overflow = overflow  # "stdout" or "stderr": it printed more than OUTPUT_CAPS allows, and was killed
        self.ended = list(ended)  # (pid, command line) of descendants killed for holding the output after the exit
        self.where = where  # the host it ran on ("" when not said)

    @property
    def ok(self) -> bool:
        """True when the command ran to completion and exited 0."""
        return self.returncode == 0

    def describe(self) -> str:
        """One line for an error message: the command and how it ended."""
        if self.timed_out:
            how = "timed out"
        elif self.overflow:
            how = "printed more than %d bytes on %s (the cap) and was killed" % (
                OUTPUT_CAPS[self.overflow], self.overflow)
        elif self.returncode is not None and self.returncode < 0:
            how = "killed by signal %d" % -self.returncode
        else:
            how = "exited %s" % self.returncode
        detail = self.stderr.strip().splitlines()[-1:] if self.stderr.strip() else []
        return "%s%s %s%s" % (self.argv[0] if self.argv else "?", " on host " + self.where if self.where else "",
                              how, (": " + detail[0]) if detail else "")

    def __repr__(self):
        return "Result(%r, rc=%r, timed_out=%r)" % (self.argv, self.returncode, self.timed_out)


def _decode(data: typing.Optional[bytes]) -> str:
    return (data or b"").decode("utf-8", "replace")


def run(
        argv: typing.Sequence[str],
        timeout: float = DEFAULT_TIMEOUT,
        env: typing.Optional[dict] = None,
        stdin: typing.Optional[str] = None,
        cwd: typing.Optional[str] = None,
        where: str = "",
) -> Result:
    """Run ``argv`` (a list, never a shell string) and return its Result.

    The command runs in its own session and its own cgroup
    (``proctree``): at the timeout, or when it prints more than a cap
    (``OUTPUT_CAPS``), its whole tree is killed, ``setsid`` children
    included.  It returns once the command exits: a descendant still
    holding its output open LINGER_GRACE later is killed (``Result.ended``
    names it, and the log).  ``where`` names the host it ran on, in
    messages.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    tree = proctree.Tree.new()
    try:
        proc = _spawn(argv, env, cwd, tree)
    except (OSError, ValueError) as e:
        tree.close()
        return Result(argv, 127, "", "%s: %s" % (argv[0], getattr(e, "strerror", None) or e), where=where)
    try:
        _notify_spawn(proc, tree)
        return _Collector(proc, tree, argv, where).collect(stdin, timeout)
    finally:
        tree.close()


def _spawn(argv: typing.List[str], env: typing.Optional[dict], cwd: typing.Optional[str],
           tree: proctree.Tree) -> subprocess.Popen:
    """Start ``argv`` in its own session and in ``tree``'s cgroup (its process group alone if joining fails)."""
    def popen(preexec: typing.Optional[typing.Callable[[], None]]) -> subprocess.Popen:
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=cwd, start_new_session=True, preexec_fn=preexec)
    try:
        proc = popen(tree.preexec())
    except subprocess.SubprocessError:  # the child could not join the cgroup (it never ran the command)
        LOG.warning("%s: could not join the cgroup %s: its process group is its tree", argv[0], tree.path)
        tree.close()
        tree.path = ""
        proc = popen(None)
    tree.leader = proc.pid
    return proc


class _Collector(object):
    """Feeds a command's stdin and reads its stdout and stderr, each up to its cap, until it is done."""

    def __init__(self, proc: subprocess.Popen, tree: proctree.Tree, argv: typing.List[str], where: str) -> None:
        self.proc, self.tree, self.argv, self.where = proc, tree, argv, where
        self.out, self.err = proc.stdout.fileno(), proc.stderr.fileno()
        self.kept = {self.out: bytearray(), self.err: bytearray()}
        self.names = {self.out: "stdout", self.err: "stderr"}
        self.inodes = [os.fstat(fd).st_ino for fd in self.kept]
        self.overflow = ""
        self.ended = []  # type: typing.List[typing.Tuple[int, str]]
        self.selector = selectors.DefaultSelector()

    def collect(self, stdin: typing.Optional[str], timeout: float) -> Result:
        """Run to the end: the command's exit, its timeout or an overflow."""
        self.data = memoryview(stdin.encode("utf-8") if stdin is not None else b"")
        try:
            for fd in self.kept:
                self.selector.register(fd, selectors.EVENT_READ)
            if self.data:
                os.set_blocking(self.proc.stdin.fileno(), False)
                self.selector.register(self.proc.stdin.fileno(), selectors.EVENT_WRITE)
            else:
                self.proc.stdin.close()
            deadline = time.monotonic() + timeout
            timed_out = self._loop(deadline)
        finally:
            self.selector.close()
        return self._result(timed_out, deadline)

    def _open(self) -> bool:
        return any(fd in self.selector.get_map() for fd in self.kept)

    def _loop(self, deadline: float) -> bool:
        """Pump until both outputs are closed; True when the deadline came first."""
        exited_at = None  # type: typing.Optional[float]
        while self._open():
            now = time.monotonic()
            if now >= deadline or self.overflow:
                self._kill_tree()
                return not self.overflow
            if exited_at is None and self.proc.poll() is not None:
                exited_at = now
            elif exited_at is not None and now - exited_at >= LINGER_GRACE:
                self._end_lingering()
                return False
            for key, _ in self.selector.select(min(POLL_INTERVAL, deadline - now)):
                self._pump(key.fd)
        return False

    def _pump(self, fd: int) -> None:
        if fd not in self.kept:
            self._feed(fd)
            return
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            self.selector.unregister(fd)
            return
        kept = self.kept[fd]
        kept += chunk
        if len(kept) > OUTPUT_CAPS[self.names[fd]]:
            self.overflow = self.overflow or self.names[fd]
            del kept[:len(kept) - OVERFLOW_KEPT]  # only the tail of an overflowing stream, for the message

    def _feed(self, fd: int) -> None:
        try:
            self.data = self.data[os.write(fd, self.data):]
        except BlockingIOError:
            return
        except BrokenPipeError:
            self.data = self.data[:0]  # it does not read its stdin: as communicate(), not an error
        if not self.data:
            self.selector.unregister(fd)
            self.proc.stdin.close()

    def _kill_tree(self) -> None:
        """Kill the whole tree (a timeout, an overflow), then what else holds the output; read what is left."""
        self.tree.kill()
        self._drain(LINGER_GRACE)
        if self._open():
            self._kill_holders()  # only where the tree is a process group: a setsid child escaped it
            self._drain(DRAIN_TIMEOUT)

    def _end_lingering(self) -> None:
        """Kill what holds the output open after the command exited, and say so; read what is left."""
        self._kill_holders()
        if self.ended:
            LOG.warning("%s%s exited, but %s kept its output open: killed", self.argv[0],
                        " on host " + self.where if self.where else "",
                        ", ".join("pid %d (%s)" % found for found in self.ended))
        self._drain(DRAIN_TIMEOUT)

    def _kill_holders(self) -> None:
        for pid in proctree.pipe_holders(self.inodes):
            self.ended.append((pid, proctree.command_line(pid)))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def _drain(self, limit: float) -> None:
        """Read what is left until the outputs close or ``limit`` seconds passed (more than a cap is dropped)."""
        deadline = time.monotonic() + limit
        while self._open() and time.monotonic() < deadline:
            for key, _ in self.selector.select(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic()))):
                if key.fd not in self.kept:
                    self.selector.unregister(key.fd)
                    continue
                chunk = os.read(key.fd, READ_SIZE)
                if not chunk:
                    self.selector.unregister(key.fd)
                elif not self.overflow and len(self.kept[key.fd]) + len(chunk) <= OUTPUT_CAPS[self.names[key.fd]]:
                    self.kept[key.fd] += chunk

    def _result(self, timed_out: bool, deadline: float) -> Result:
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.overflow:
            self.tree.kill()  # it may have closed its output and run on
        try:
            code = self.proc.wait(timeout=max(0.0, deadline - time.monotonic()) if not timed_out else DRAIN_TIMEOUT)
        except subprocess.TimeoutExpired:  # its output closed, it ran on to the deadline
            timed_out = True
            self.tree.kill()
            self.proc.kill()
            code = self.proc.wait()
        killed = timed_out or bool(self.overflow)
        out, err = _decode(bytes(self.kept[self.out])), _decode(bytes(self.kept[self.err]))
        self.proc.stdout.close()
        self.proc.stderr.close()
        return Result(self.argv, None if killed else code, out, err, timed_out=timed_out,
                      overflow=self.overflow, ended=self.ended, where=self.where)


def _notify_spawn(proc: subprocess.Popen, tree: proctree.Tree) -> None:
    """Tell this thread's spawn observer (``observe_spawns``) the new process group; kill the tree if that fails."""
    callback = getattr(_OBSERVER, "callback", None)
    if callback is None:
        return
    try:
        callback(proc.pid)
    except BaseException:
        tree.kill()
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
        raise


@contextlib.contextmanager
def observe_spawns(callback: typing.Callable[[int], None]) -> typing.Iterator[None]:
    """Inside the block, ``run`` in this thread calls ``callback(pgid)`` as soon as it started a process.

    The process leads its own group and session (``pgid`` is its pid).  If
    the callback raises, the process tree is killed and the error raised.
    """
    previous = getattr(_OBSERVER, "callback", None)
    _OBSERVER.callback = callback
    try:
        yield
    finally:
        _OBSERVER.callback = previous
