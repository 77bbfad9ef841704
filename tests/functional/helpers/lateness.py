"""A measured scheduling allowance: how late this machine runs a process that asked to run now.

A test that bounds a stack's timing asserts the stack's own configured
time plus an allowance for the machine, never a fixed window.  ``Lateness``
measures that allowance while the test runs: a thread that sleeps
``STEP`` over and over notes how much later than asked it woke, and every
``SPAWN_EVERY`` wakes how long starting an interpreter takes (a stack's
script, a fence action, each is a new process).  On an idle machine both
are milliseconds; on a loaded one (a parallel test run, another build)
they grow, and so does the allowance.  ``allowance(wakes, spawns)`` is the
worst of each seen, times how many of them the stack's chain of events
needs, with ``FLOOR`` (or what the test knows its chain needs on an idle
machine) as the least.
"""

import subprocess
import sys
import threading
import time

STEP = 0.05  # seconds the probe sleeps each time
SPAWN_EVERY = 20  # wakes between two timed interpreter starts (one a second)
FLOOR = 1.0  # seconds: the least allowance, for what the probe cannot see (a disk write, a context switch)


class Lateness(object):
    """The probe, as a context manager: ``with Lateness() as late: ...; late.allowance(3, 2)``."""

    def __init__(self) -> None:
        self.worst_wake = 0.0
        self.worst_spawn = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Lateness":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        wakes = 0
        while not self._stop.is_set():
            asked = time.monotonic()
            time.sleep(STEP)
            self.worst_wake = max(self.worst_wake, time.monotonic() - asked - STEP)
            wakes += 1
            if wakes % SPAWN_EVERY == 0:
                began = time.monotonic()
                subprocess.run([sys.executable, "-S", "-c", "pass"], timeout=300)
                self.worst_spawn = max(self.worst_spawn, time.monotonic() - began)

    def allowance(self, wakes: int, spawns: int, floor: float = FLOOR) -> float:
        """Seconds to add to a configured time: ``wakes`` late wake-ups, ``spawns`` process starts, or ``floor``."""
        return max(floor, wakes * self.worst_wake + spawns * self.worst_spawn)

    def __repr__(self) -> str:
        return "Lateness(worst wake %.3f s, worst interpreter start %.3f s)" % (self.worst_wake, self.worst_spawn)
