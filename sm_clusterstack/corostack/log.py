"""The stack's log: syslog (ident ``corosync-ha``, facility daemon) and the settings' log file.

Both survive a fence, unlike the runtime directory (tmpfs).  Each line is
written and flushed at once; a log that cannot be written never stops the
monitor or a script.
"""

import os
import syslog
import time

IDENT = "corosync-ha"


class Log(object):
    """Append lines to ``path`` and to syslog."""

    def __init__(self, path: str, who: str) -> None:
        self.path = path
        self.who = who
        syslog.openlog(IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)

    def write(self, message: str, level: int = syslog.LOG_INFO) -> None:
        """Log one line."""
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
