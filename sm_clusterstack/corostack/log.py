"""The stack's log: syslog (ident ``corosync-ha``, facility daemon) and the settings' log file.

Both survive a fence, unlike the runtime directory (tmpfs).  Each line is
written and flushed at once; a log that cannot be written never stops the
monitor or a script.  A line identical to one written less than
``REPEAT_WINDOW`` seconds before is counted instead of written (a fence
retried every poll would log its few lines many times a second); the
count is written with the line's next appearance after the window.
"""

import os
import syslog
import time

IDENT = "corosync-ha"
REPEAT_WINDOW = 60.0  # seconds during which an identical line is only counted
_process_log = []  # the last Log this process opened (the monitor's, the guard's)


class Log(object):
    """Append lines to ``path`` and to syslog."""

    def __init__(self, path: str, who: str) -> None:
        self.path = path
        self.who = who
        self.recent = {}  # line -> [when written, times held back since]
        syslog.openlog(IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
        _process_log[:] = [self]

    def write(self, message: str, level: int = syslog.LOG_INFO) -> None:
        """Log one line (an identical one within REPEAT_WINDOW is only counted)."""
        now = time.monotonic()
        seen = self.recent.get(message)
        if seen is not None and now - seen[0] < REPEAT_WINDOW:
            seen[1] += 1
            return
        held = int(seen[1]) if seen is not None else 0
        if len(self.recent) > 256:
            self.recent = {k: v for k, v in self.recent.items() if now - v[0] < REPEAT_WINDOW}
        self.recent[message] = [now, 0]
        self._emit(message + (" (and %d times more in the last %.0f s)" % (held, REPEAT_WINDOW) if held else ""), level)

    def _emit(self, message: str, level: int) -> None:
        line = "%s %s[%d]: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), self.who, os.getpid(), message)
        try:
            syslog.syslog(level, "%s: %s" % (self.who, message))
        except (OSError, ValueError):
            pass
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(line)
        except OSError:
            pass

    def warning(self, message: str) -> None:
        """Log one line at warning level."""
        self.write(message, syslog.LOG_WARNING)


def to_process_log(message: str) -> None:
    """A warning in this process's log, for code with no handle on it (the statefile I/O); nothing when none."""
    for found in _process_log:
        found.warning(message)
