"""Fencing a host: the settings' fence action, retried, then escalated; and the watchdog device.

``fence`` runs ``fence-action`` up to ``fence-attempts`` times (each with
a timeout; exit 0 is success), then ``fence-escalation`` once.  An empty
action is the kernel's immediate reboot (``b`` to /proc/sysrq-trigger),
the default of both: if that write returns and the host still runs a
moment later, it failed.  The action runs without a shell, its
environment only PATH and SM_CLUSTERSTACK_FENCE_REASON (why).

``Watchdog`` is the kernel watchdog device (as sbd uses it): once opened
it must be written to within its timeout or the kernel reboots the host,
so a fence guard that dies or hangs still fences, and so does a host whose
processes are all frozen; closing it after writing ``V`` (the magic close)
stands it down.  Only a character device is a watchdog: a setting of
``none``, a missing device or a regular file in its place (a host sandbox's
stand-in) is no watchdog, and ``watchdog_problem`` says so for the log and
the liveset, never silently.
"""

import fcntl
import os
import stat
import struct
import time
import typing

from sm_clusterstack import runner
from sm_clusterstack.corostack.log import Log

SYSRQ = "/proc/sysrq-trigger"
WDIOC_SETTIMEOUT = 0xC0045706  # _IOWR('W', 6, int)
FENCE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def kernel_reboot(grace: float) -> bool:
    """Reboot now through sysrq; False when this returns and the host still runs after ``grace``."""
    try:
        with open(SYSRQ, "w") as trigger:
            trigger.write("b")
    except OSError:
        return False
    time.sleep(grace)
    return False


def run_action(argv: typing.List[str], reason: str, timeout: float, grace: float, log: Log,
               run: typing.Callable[..., runner.Result] = runner.run,
               reboot: typing.Callable[[float], bool] = kernel_reboot) -> bool:
    """Run one fence action; True when it reports success (exit 0)."""
    if not argv:
        log.warning("fencing by the kernel's immediate reboot: %s" % reason)
        return reboot(grace)
    result = run(argv, timeout=timeout, env={"PATH": FENCE_PATH, "SM_CLUSTERSTACK_FENCE_REASON": reason})
    log.warning("fence action %s: %s" % (" ".join(argv), result.describe()))
    return result.ok


def fence(action: typing.List[str], escalation: typing.List[str], attempts: int, reason: str,
          timeout: float, grace: float, log: Log, **hooks) -> bool:
    """The whole fence chain; True once an action succeeded, False when even escalation failed."""
    for attempt in range(1, attempts + 1):
        log.warning("fencing (attempt %d of %d): %s" % (attempt, attempts, reason))
        if run_action(action, reason, timeout, grace, log, **hooks):
            return True
    log.warning("fence action failed %d times: escalating" % attempts)
    if run_action(escalation, reason + " (escalated)", timeout, grace, log, **hooks):
        return True
    log.warning("escalation failed too: this host could not fence")
    return False


def watchdog_problem(path: str) -> str:
    """Why ``path`` is no usable kernel watchdog; "" when it is one (a character device)."""
    if not path:
        return "the watchdog device is set to none"
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return "watchdog device %s: %s" % (path, e.strerror or e)
    return "" if stat.S_ISCHR(mode) else "%s is not a character device" % path


class Watchdog(object):
    """An open kernel watchdog device, or nothing (``problem`` says why) when there is none."""

    def __init__(self, path: str, timeout: int, log: Log) -> None:
        self.fd = None  # type: typing.Optional[int]
        self.problem = watchdog_problem(path)
        if self.problem:
            log.warning("no kernel watchdog: %s" % self.problem)
            return
        try:
            self.fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            self.problem = "cannot open %s: %s" % (path, e.strerror or e)
            log.warning("no kernel watchdog: %s" % self.problem)
            return
        try:
            fcntl.ioctl(self.fd, WDIOC_SETTIMEOUT, struct.pack("i", timeout))
        except OSError as e:  # a device without a settable timeout keeps its own
            log.warning("watchdog %s: timeout not set (%s)" % (path, e.strerror or e))
        log.write("watchdog %s armed, timeout %d s" % (path, timeout))

    def pet(self) -> None:
        """Tell the kernel this host is still well."""
        if self.fd is not None:
            os.write(self.fd, b"\0")

    def stand_down(self) -> None:
        """Magic close: the kernel stops counting."""
        if self.fd is not None:
            os.write(self.fd, b"V")
            os.close(self.fd)
            self.fd = None
