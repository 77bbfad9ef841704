"""Long operations as tasks: ``Async.<method>``, polled, with xe's progress bar on stderr.

The bar is ``cli_progress_bar.ml``'s (``[*] ####>   ( 42% ETA 00:00:07)``,
80 columns, redrawn with ``\\r`` whenever it grows) and, at the end,
``Total time: ...`` as ``cli_util.ml`` ``wait_for_task_completion_with_progress``
prints it.  The result is read as ``cli_util.ml`` ``track_http_operation``
does: ``task.get_result`` on success, ``task.get_error_info`` raised as the
error on failure, TASK_CANCELLED when cancelled; the task is then destroyed.
A server without tasks (MESSAGE_METHOD_UNKNOWN for the Async name) gets the
plain call.
"""

import time
import typing

from sm_clusterstack import xmlrpc_safe

POLL = 0.2  # seconds between task.get_progress calls
WIDTH = 80
PREFIX, SUFFIX = "[*] ", "  (   % ETA   :  :  )"
SPINNER = "-\\|/"


class Bar(object):
    """cli_progress_bar.ml: a bar of ``width`` columns for values from 0 to 1."""

    def __init__(self, width: int = WIDTH, clock: typing.Callable[[], float] = time.monotonic) -> None:
        self.width = width
        self.value = 0.0
        self.spin = 0
        self.clock = clock
        self.start = clock()

    def _cells(self, value: float) -> int:
        return int(value * (self.width - len(PREFIX) - len(SUFFIX)))

    def update(self, value: float) -> bool:
        """Record ``value``; True when the bar got longer (time to redraw)."""
        value = min(max(value, 0.0), 1.0)
        grew = self._cells(value) != self._cells(self.value)
        self.value = value
        return grew

    def render(self) -> str:
        line = list(PREFIX + " " * (self.width - len(PREFIX) - len(SUFFIX) - 1) + SUFFIX + " ")
        line[1] = SPINNER[self.spin]
        self.spin = (self.spin + 1) % len(SPINNER)
        cells = self._cells(self.value)
        for i in range(cells):
            line[len(PREFIX) + i] = ">" if i == cells - 1 else "#"
        line[self.width - 19:self.width - 16] = "%3d" % int(self.value * 100)
        eta = hms(self.eta())
        line[self.width - 10:self.width - 10 + len(eta)] = eta
        return "".join(line)

    def eta(self) -> int:
        elapsed = self.clock() - self.start
        return int(elapsed / self.value - elapsed) if self.value > 0 else 0

    def summary(self) -> str:
        return "Total time: %s\n" % span(self.clock() - self.start)


def hms(seconds: int) -> str:
    text = "%02d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)
    return text if len(text) <= 8 else "++:++:++"


def span(seconds: float) -> str:
    """A duration as Mtime.Span.pp prints one (ms below a second, then s, then min and s)."""
    if seconds < 1:
        return "%dms" % int(seconds * 1000)
    if seconds < 60:
        return "%.2fs" % seconds
    return "%dmin%ds" % (seconds // 60, seconds % 60)


def run(api: typing.Any, method: str, args: typing.Sequence[typing.Any],
        write: typing.Callable[[str], None], sleep: typing.Callable[[float], None] = time.sleep) -> typing.Any:
    """Call ``method`` (``pool.enable_ha``) as a task, drawing the bar; its result."""
    import XenAPI
    cls, name = method.split(".")
    try:
        task = getattr(getattr(api.Async, cls), name)(*args)
    except XenAPI.Failure as e:
        if e.details[:2] == ["MESSAGE_METHOD_UNKNOWN", "Async." + method]:
            return getattr(getattr(api, cls), name)(*args)
        raise
    try:
        return wait(api, task, write, sleep)
    finally:
        try:
            api.task.destroy(task)
        except Exception:  # destroying our own finished task is a courtesy
            pass


def wait(api: typing.Any, task: str, write: typing.Callable[[str], None],
         sleep: typing.Callable[[float], None] = time.sleep) -> typing.Any:
    """Poll ``task`` until it ends, redrawing the bar; its result, or its error raised."""
    import XenAPI
    bar = Bar()
    status = "pending"
    while status == "pending":
        status = api.task.get_status(task)
        if bar.update(float(api.task.get_progress(task))):
            write("\r" + bar.render())
        if status == "pending":
            sleep(POLL)
    write("\n" + bar.summary())
    if status == "success":
        return decode_result(api.task.get_result(task))
    if status in ("cancelled", "cancelling"):
        raise XenAPI.Failure(["TASK_CANCELLED", task])
    raise XenAPI.Failure(api.task.get_error_info(task) or ["INTERNAL_ERROR", ""])


def decode_result(text: str) -> typing.Any:
    """A task's result (an XML-RPC ``<value>``, as xapi's Xmlrpc.to_string writes it); "" when empty."""
    if not text:
        return ""
    (value,), _ = xmlrpc_safe.loads("<methodResponse><params><param>%s</param></params></methodResponse>" % text)
    return value
