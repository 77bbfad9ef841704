"""Check results and the suites that group them, with the kit's exit code.

A suite records, per check, what the commands that check ran printed
(``capture``), so that the report can show it beside the verdict; a
listener given to the suite hears each result as it is recorded (the CLI's
progress).
"""

import datetime
import time
import typing

PASS = "PASS"
WARN = "WARN"  # observed and acceptable to xapi, but worth the vendor's attention (does not fail the run)
FAIL = "FAIL"
SKIP = "SKIP"
ERROR = "ERROR"  # the kit itself could not run the check
RESULTS = (PASS, WARN, FAIL, SKIP, ERROR)

EXIT_OK = 0  # nothing failed
EXIT_FAILED = 1  # a check failed
EXIT_CANNOT_RUN = 2  # the kit could not run (a check ended ERROR and none FAIL, or bad arguments)
MAX_CAPTURE = 64 * 1024  # characters of output kept per check and stream


class CheckResult(object):
    """What one check found: its id, PASS/FAIL/SKIP/ERROR, a detail, its time and captured output."""

    __slots__ = ("check", "result", "detail", "seconds", "stdout", "stderr")

    def __init__(self, check: str, result: str, detail: str = "", seconds: float = 0.0,
                 stdout: str = "", stderr: str = "") -> None:
        if result not in RESULTS:
            raise ValueError("unknown check result %r" % result)
        self.check = check
        self.result = result
        self.detail = detail
        self.seconds = seconds
        self.stdout = stdout
        self.stderr = stderr

    @property
    def failed(self) -> bool:
        """True for FAIL and ERROR: the target does not conform, or was not judged."""
        return self.result in (FAIL, ERROR)

    def __repr__(self):
        return "CheckResult(%r, %r, %r)" % (self.check, self.result, self.detail)


def now() -> datetime.datetime:
    """The current time in this machine's zone, zone attached."""
    return datetime.datetime.now(datetime.timezone.utc).astimezone()


class Suite(object):
    """The results of every check on one target (a stack directory or a driver).

    ``listener(suite, None)`` is called when the suite starts, then
    ``listener(suite, result)`` as each result is recorded.
    """

    def __init__(self, kind: str, name: str, path: str,
                 listener: typing.Optional["Listener"] = None) -> None:
        self.kind = kind  # "stack" or "driver"
        self.name = name
        self.path = path
        self.started = now()
        self.results = []  # type: typing.List[CheckResult]
        self.listener = listener
        self._last = time.monotonic()
        self._out = []  # type: typing.List[str]
        self._err = []  # type: typing.List[str]
        if listener is not None:
            listener(self, None)

    def capture(self, what: str, stdout: str = "", stderr: str = "") -> None:
        """Keep what a command of the running check printed; ``what`` names the command."""
        for buf, text in ((self._out, stdout), (self._err, stderr)):
            if text:
                buf.append("$ %s\n%s%s" % (what, text, "" if text.endswith("\n") else "\n"))

    def add(self, check: str, result: str, detail: str = "") -> CheckResult:
        """Record a result with the output captured since the previous one; its time is the time since then."""
        now_ = time.monotonic()
        out, err = "".join(self._out)[-MAX_CAPTURE:], "".join(self._err)[-MAX_CAPTURE:]
        found = CheckResult(check, result, detail, now_ - self._last, out, err)
        self._last, self._out, self._err = now_, [], []
        self.results.append(found)
        if self.listener is not None:
            self.listener(self, found)
        return found

    def mark(self) -> None:
        """Start timing the next check from now (output captured so far stays with it)."""
        self._last = time.monotonic()

    def get(self, check: str) -> CheckResult:
        """The result of ``check`` (KeyError if it was not recorded)."""
        for found in self.results:
            if found.check == check:
                return found
        raise KeyError(check)

    def failing(self) -> typing.List[str]:
        """The ids of the checks that failed or errored, in order."""
        return [r.check for r in self.results if r.failed]

    def count(self, result: str) -> int:
        """How many checks ended with ``result``."""
        return sum(1 for r in self.results if r.result == result)

    @property
    def seconds(self) -> float:
        """Total time of the suite's checks."""
        return sum(r.seconds for r in self.results)


Listener = typing.Callable[[Suite, typing.Optional[CheckResult]], None]


def exit_code(suites: typing.Sequence[Suite]) -> int:
    """1 when a check failed; else 2 when the kit could not run a check (ERROR); else 0."""
    results = [r.result for suite in suites for r in suite.results]
    if FAIL in results:
        return EXIT_FAILED
    if ERROR in results:
        return EXIT_CANNOT_RUN
    return EXIT_OK
