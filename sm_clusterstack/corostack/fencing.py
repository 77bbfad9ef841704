"""Fencing a host: the settings' fence action, retried, then escalated; and the watchdog device.

``fence`` runs ``fence-action`` up to ``fence-attempts`` times (each with
a timeout; exit 0 is success), then ``fence-escalation`` once.  An empty
action is the kernel's immediate reboot, the default of both: ``b`` to
/proc/sysrq-trigger, or where that cannot be written (a kernel without
sysrq) the reboot(2) system call, LINUX_REBOOT_CMD_RESTART, as ``reboot
-f`` makes it; if the host still runs a moment later, it failed.  The
action runs without a shell, its environment only PATH and
SM_CLUSTERSTACK_FENCE_REASON (why).

reboot(2) in a PID namespace other than the machine's first one reboots
nothing: the kernel kills that namespace's init, and with it every process
of the namespace (pid_namespaces(7), reboot(2), Linux 3.4 on).  A host
sandbox (``sm_clusterstack.hostsandbox``) runs each host in a PID
namespace of its own, so there the call ends exactly that host, and its
power switch boots it again.  In the machine's first PID namespace it is
refused where the machine plays host sandboxes (``hostsandbox.MACHINE_MARK``,
invisible inside a sandbox): a process there is none of its hosts.

``Watchdog`` is the kernel watchdog device (as sbd uses it): once opened
it must be written to within its timeout or the kernel reboots the host,
so a fence guard that dies or hangs still fences, and so does a host whose
processes are all frozen; closing it after writing ``V`` (the magic close)
stands it down.  Only a character device is a watchdog: a setting of
``none``, a missing device or a regular file in its place (a host sandbox's
stand-in) is no watchdog, and ``watchdog_problem`` says so for the log and
the liveset, never silently.
"""

import ctypes
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
LINUX_REBOOT_CMD_RESTART = 0x01234567  # <linux/reboot.h>; glibc's reboot() adds the magic numbers
PID_NS = "/proc/self/ns/pid"
INITIAL_PID_NS = 0xEFFFFFFC  # PROC_PID_INIT_INO: the inode of the machine's first PID namespace
MACHINE_MARK = "/run/sm-clusterstack-plays-hosts"  # hostsandbox.MACHINE_MARK (kept equal by a unit test)


def pid_namespace(path: str = PID_NS) -> int:
    """The inode of this process's PID namespace; INITIAL_PID_NS when it cannot be told (the safe answer)."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return INITIAL_PID_NS


def libc_reboot(command: int) -> str:
    """reboot(2) through the C library; what it returned when it returned ("" never: it does not)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.reboot(ctypes.c_int(command)) != 0:
        return os.strerror(ctypes.get_errno())
    return "it returned"


def reboot_syscall(pid_ns: int, machine_mark: str = MACHINE_MARK,
                   call: typing.Callable[[int], str] = libc_reboot) -> str:
    """The reboot(2) system call (RESTART), unless refused; why it did not reboot when it returns."""
    if pid_ns == INITIAL_PID_NS and os.path.exists(machine_mark):
        return ("refused: this process is in the machine's first PID namespace and the machine plays host "
                "sandboxes (%s), so it is none of its hosts" % machine_mark)
    return "reboot(2): " + call(LINUX_REBOOT_CMD_RESTART)


def kernel_fence_note(sysrq: str = SYSRQ, pid_ns_path: str = PID_NS) -> str:
    """How the kernel's immediate reboot would be made here, when it is not sysrq ("" when it is)."""
    if os.path.exists(sysrq):
        return ""
    if pid_namespace(pid_ns_path) != INITIAL_PID_NS:
        return ("no %s: the kernel fence is the reboot(2) system call, which in this host's own PID "
                "namespace ends every process of this host (its power switch boots it again)" % sysrq)
    return "no %s: the kernel fence is the reboot(2) system call" % sysrq


def kernel_reboot(grace: float, log: Log, sysrq: str = SYSRQ, pid_ns_path: str = PID_NS,
                  syscall: typing.Callable[[int], str] = reboot_syscall) -> bool:
    """Reboot now: sysrq's ``b``, or reboot(2) where sysrq cannot be written; False when the host still runs
    after ``grace`` (or the reboot was refused)."""
    try:
        fd = os.open(sysrq, os.O_WRONLY)  # never made: a missing trigger is a kernel without sysrq
        try:
            os.write(fd, b"b")
        finally:
            os.close(fd)
    except OSError as e:
        pid_ns = pid_namespace(pid_ns_path)
        where = "the machine's first PID namespace" if pid_ns == INITIAL_PID_NS else "PID namespace %d" % pid_ns
        log.warning("cannot write %s (%s): fencing by the reboot(2) system call in %s"
                    % (sysrq, e.strerror or e, where))
        log.warning("the kernel's reboot failed: %s" % syscall(pid_ns))
        return False
    time.sleep(grace)
    return False


def run_action(argv: typing.List[str], reason: str, timeout: float, grace: float, log: Log,
               run: typing.Callable[..., runner.Result] = runner.run,
               reboot: typing.Callable[[float, Log], bool] = kernel_reboot) -> bool:
    """Run one fence action; True when it reports success (exit 0)."""
    if not argv:
        log.warning("fencing by the kernel's immediate reboot: %s" % reason)
        return reboot(grace, log)
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
