"""Where the shim's log goes: stderr, ``serve --log-file``, and syslog.

``configure`` gives the ``sm_clusterstack`` loggers (the calls of
``xapi/calllog.py``, the HA steps of ``xapi/tasks.py``, the shim's own
lines) up to three handlers: stderr as before, the log file (reopened when
logrotate moves it away: WatchedFileHandler, so no signal and no
copytruncate are needed), and syslog at ``/dev/log`` with facility daemon
and ident ``sm-clusterstack``, as xapi logs to the daemon facility.  The
SR drivers log on their own, with ident ``SM`` and facility local2
(``smapi/driver.py``), which a dom0 routes to ``/var/log/SMlog``.
"""

import logging
import logging.handlers
import os
import sys
import typing

FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
SYSLOG_FORMAT = "sm-clusterstack[%(process)d]: %(levelname)s %(name)s: %(message)s"
DEV_LOG = "/dev/log"


def configure(log_file: typing.Optional[str] = None, verbose: bool = False, dev_log: str = DEV_LOG,
              stream: typing.Any = None) -> typing.List[logging.Handler]:
    """Send the project's loggers to stderr, ``log_file`` and syslog; the handlers made.

    A log file that cannot be opened is an OSError (the caller says so and
    stops); a missing ``/dev/log`` only means no syslog handler.
    """
    handlers = [logging.StreamHandler(sys.stderr if stream is None else stream)]
    if log_file:
        directory = os.path.dirname(os.path.abspath(log_file))
        os.makedirs(directory, mode=0o750, exist_ok=True)
        handlers.append(logging.handlers.WatchedFileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
    if os.path.exists(dev_log):
        try:
            syslog = logging.handlers.SysLogHandler(dev_log, logging.handlers.SysLogHandler.LOG_DAEMON)
        except OSError:  # /dev/log there but nobody listening
            syslog = None
        if syslog is not None:
            syslog.setFormatter(logging.Formatter(SYSLOG_FORMAT))
            handlers.append(syslog)
    logger = logging.getLogger("sm_clusterstack")
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    return handlers
