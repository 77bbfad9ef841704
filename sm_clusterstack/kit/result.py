"""Check results and the suites that group them, with the kit's exit code."""

import time
import typing

PASS = "PASS"
FAIL = "FAIL"
SKIP = "SKIP"
ERROR = "ERROR"  # the kit itself could not run the check
RESULTS = (PASS, FAIL, SKIP, ERROR)

EXIT_OK = 0  # nothing failed
EXIT_FAILED = 1  # a check failed
EXIT_CANNOT_RUN = 2  # the kit could not run (a check ended ERROR and none FAIL, or bad arguments)


class CheckResult(object):
    """What one check found: its id, PASS/FAIL/SKIP/ERROR, a detail, how long it took."""

    __slots__ = ("check", "result", "detail", "seconds")

    def __init__(self, check: str, result: str, detail: str = "", seconds: float = 0.0) -> None:
        if result not in RESULTS:
            raise ValueError("unknown check result %r" % result)
        self.check = check
        self.result = result
        self.detail = detail
        self.seconds = seconds

    @property
    def failed(self) -> bool:
        """True for FAIL and ERROR: the target does not conform, or was not judged."""
        return self.result in (FAIL, ERROR)

    def __repr__(self):
        return "CheckResult(%r, %r, %r)" % (self.check, self.result, self.detail)


class Suite(object):
    """The results of every check on one target (a stack directory or a driver)."""

    def __init__(self, kind: str, name: str, path: str) -> None:
        self.kind = kind  # "stack" or "driver"
        self.name = name
        self.path = path
        self.results = []  # type: typing.List[CheckResult]
        self._started = time.monotonic()
        self._last = self._started

    def add(self, check: str, result: str, detail: str = "") -> CheckResult:
        """Record a result; its time is the time since the previous one."""
        now = time.monotonic()
        found = CheckResult(check, result, detail, now - self._last)
        self._last = now
        self.results.append(found)
        return found

    def mark(self) -> None:
        """Start timing the next check from now."""
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


def exit_code(suites: typing.Sequence[Suite]) -> int:
    """1 when a check failed; else 2 when the kit could not run a check (ERROR); else 0."""
    results = [r.result for suite in suites for r in suite.results]
    if FAIL in results:
        return EXIT_FAILED
    if ERROR in results:
        return EXIT_CANNOT_RUN
    return EXIT_OK
