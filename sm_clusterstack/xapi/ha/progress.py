"""Progress of a long operation, reported to whoever runs it (a task) on the same thread.

enable_ha and disable_ha call ``report(step, fraction)`` between their
steps, as xapi's ``xapi_ha.ml`` sets its task's progress; a task that runs
an operation binds its own setter for the thread with ``listening``.
Outside a bound thread a report is only logged.  This module imports
nothing of the shim, so ``ha`` (which reports) and ``methods.task`` (which
listens) both import it downward.
"""

import contextlib
import logging
import threading
import typing

LOG = logging.getLogger("sm_clusterstack.xapi")
_BOUND = threading.local()  # .listener: fraction -> None, for the operation this thread runs


@contextlib.contextmanager
def listening(listener: typing.Callable[[float], None]) -> typing.Iterator[None]:
    """While the block runs, this thread's reports go to ``listener(fraction)``."""
    previous = getattr(_BOUND, "listener", None)
    _BOUND.listener = listener
    try:
        yield
    finally:
        _BOUND.listener = previous


def report(step: str, fraction: float) -> None:
    """The operation is at ``step``, ``fraction`` (0 to 1) done: logged, and told to this thread's listener."""
    LOG.debug("progress %.2f: %s", fraction, step)
    listener = getattr(_BOUND, "listener", None)
    if listener is None:
        return
    try:
        listener(fraction)
    except Exception:  # a listener's bug must not fail the operation
        LOG.exception("progress listener failed")
