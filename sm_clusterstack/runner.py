"""The one command runner: argv list, timeout, output captured.

It never raises on a non-zero exit: callers read ``Result.returncode`` and
interpret it next to a comment that says what each code means.  A command
that does not exist gives returncode 127 (as a shell would), one killed at
its timeout gives ``timed_out`` True and returncode None.
"""

import contextlib
import os
import signal
import subprocess
import threading
import typing

DEFAULT_TIMEOUT = 60.0  # seconds
_OBSERVER = threading.local()  # .callback: observe_spawns' callback for this thread


class Result(object):
    """What a command did: exit status, output, and whether it timed out."""

    __slots__ = ("argv", "returncode", "stdout", "stderr", "timed_out")

    def __init__(
            self,
            argv: typing.List[str],
            returncode: typing.Optional[int],
            stdout: str,
            stderr: str,
            timed_out: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    @property
    def ok(self) -> bool:
        """True when the command ran to completion and exited 0."""
        return self.returncode == 0

    def describe(self) -> str:
        """One line for an error message: the command and how it ended."""
        if self.timed_out:
            how = "timed out"
        elif self.returncode is not None and self.returncode < 0:
            how = "killed by signal %d" % -self.returncode
        else:
            how = "exited %s" % self.returncode
        detail = self.stderr.strip().splitlines()[-1:] if self.stderr.strip() else []
        return "%s %s%s" % (self.argv[0] if self.argv else "?", how,
                            (": " + detail[0]) if detail else "")

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
) -> Result:
    """Run ``argv`` (a list, never a shell string) and return its Result.

    The command runs in its own session; at the timeout the whole process
    group is killed, so a script's children do not outlive it.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True)
    except (OSError, ValueError) as e:
        return Result(argv, 127, "", "%s: %s" % (argv[0], getattr(e, "strerror", None) or e))
    _notify_spawn(proc)
    data = stdin.encode("utf-8") if stdin is not None else None
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            # a descendant in another session still holds the pipes open
            proc.kill()
            out, err = b"", b""
        return Result(argv, None, _decode(out), _decode(err), timed_out=True)
    return Result(argv, proc.returncode, _decode(out), _decode(err))


def _notify_spawn(proc: subprocess.Popen) -> None:
    """Tell this thread's spawn observer (``observe_spawns``) the new process group; kill it if that fails."""
    callback = getattr(_OBSERVER, "callback", None)
    if callback is None:
        return
    try:
        callback(proc.pid)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise


@contextlib.contextmanager
def observe_spawns(callback: typing.Callable[[int], None]) -> typing.Iterator[None]:
    """Inside the block, ``run`` in this thread calls ``callback(pgid)`` as soon as it started a process.

    The process leads its own group and session (``pgid`` is its pid).  If
    the callback raises, the process group is killed and the error raised.
    """
    previous = getattr(_OBSERVER, "callback", None)
    _OBSERVER.callback = callback
    try:
        yield
    finally:
        _OBSERVER.callback = previous


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
