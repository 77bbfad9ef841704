"""Statefile I/O out of the monitor's loop: one thread does it, the monitor never waits for it.

A statefile on a stalled storage path blocks whoever touches it (in the
kernel, for as long as the path is stalled).  xhad's heartbeat and
statefile threads keep that away from its watchdog; here the monitor
hands each round to ``SlotIO``'s thread: write this host's slot, then
read the pool record and every slot.  The monitor takes the last finished
``Round`` and ``busy_since`` (when the round in progress began): a round
older than Timing.io_deadline means the statefile is lost for now
(``statefile_lost``), never a stalled monitor.  A slot submitted while a
round runs replaces any earlier one not yet written.

``Inline`` does the same synchronously (for tests and one-shot writers),
and ``with_deadline`` runs one call in a thread and gives up waiting
after a timeout (the pool record's change as a host comes online, the
guard's last slot write after a fence).

These threads keep their file descriptors to themselves
(``private_fd_table``): a process the monitor starts meanwhile (each poll
runs corosync's tools) would otherwise inherit the statefile's open
descriptor, and closing it before its exec can wait on the stalled storage
(FUSE sends a flush on every close): Popen waits for that exec, and the
monitor with it, for as long as the stall lasts (seen: every monitor of a
pool silent for a 2 T stall, its guards fencing).
"""

import ctypes
import os
import threading
import time
import typing

from sm_clusterstack.corostack import hostslot, log, statefile
from sm_clusterstack.stacks.xhadconf import XhadConfig


CLONE_FILES = 0x00000400  # <linux/sched.h>
THREAD_FDS = "/proc/thread-self/fd"  # the calling thread's descriptors (/proc/self/fd: its process leader's)


def private_fd_table() -> bool:
    """Give the calling thread a file descriptor table of its own (unshare(2) CLONE_FILES); whether it could.

    What the thread opens from then on is invisible to the process's other
    threads and never inherited by the processes they start.  The copies
    of the descriptors open until now are closed in the new table (the
    others' are untouched): the thread holds nothing else open.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(ctypes.c_int(CLONE_FILES)) != 0:
            return False
    except (OSError, AttributeError):
        return False
    try:
        inherited = [int(name) for name in os.listdir(THREAD_FDS) if name.isdigit() and int(name) > 2]
    except OSError:
        inherited = []
    for fd in inherited:  # the directory's own descriptor among them is closed already
        try:
            os.close(fd)
        except OSError:
            pass
    return True


class Round(object):
    """What one round of statefile I/O found."""

    def __init__(self, began: float) -> None:
        self.began = began
        self.finished = began
        self.access = False
        self.corrupted = False
        self.error = ""
        self.pool = None  # type: typing.Optional[statefile.PoolState]
        self.slots = {}  # type: typing.Dict[str, typing.Optional[hostslot.Slot]]
        self.damaged = {}  # type: typing.Dict[str, str]  # host: why its block was not trusted
        self.buffered = ""  # why this round's I/O was buffered (O_DIRECT refused); "" for O_DIRECT

    @property
    def seconds(self) -> float:
        """How long the round took."""
        return self.finished - self.began


class Sequences(object):
    """What one writer keeps between rounds: its own block's last write sequence, the others' last read."""

    def __init__(self) -> None:
        self.written = 0  # 0: not yet known (the first write continues from the block)
        self.read = {}  # type: typing.Dict[str, int]


def do_round(conf: XhadConfig, slot: typing.Optional[hostslot.Slot],
             clock: typing.Callable[[], float] = time.monotonic,
             sequences: typing.Optional[Sequences] = None) -> Round:
    """Write ``slot`` (if any), read everything; errors become the Round's flags."""
    sequences = sequences if sequences is not None else Sequences()
    found = Round(clock())
    try:
        with statefile.opened(conf.statefile, write=True) as handle:
            found.buffered = handle.buffered
            if slot is not None:
                next_write = sequences.written + 1 if sequences.written else 0
                sequences.written = hostslot.write(handle, conf, slot, next_write)
            found.slots = hostslot.read_all(handle, conf, found.damaged, sequences.read)
            found.pool = statefile.read_pool(handle)
            found.access = True
        for host, why in sorted(found.damaged.items()):
            log.to_process_log("statefile: the slot of %s is not trusted: %s" % (host, why))
    except statefile.StatefileError as e:
        found.error = str(e)
    except statefile.StatefileCorrupt as e:
        found.corrupted, found.error = True, str(e)
    found.finished = clock()
    return found


class Inline(object):
    """Statefile rounds done at once, in the caller's thread."""

    def __init__(self, conf: XhadConfig, clock: typing.Callable[[], float] = time.monotonic) -> None:
        self.conf, self.clock = conf, clock
        self.last = None  # type: typing.Optional[Round]
        self.sequences = Sequences()

    def submit(self, slot: typing.Optional[hostslot.Slot]) -> None:
        """Do one round now."""
        self.last = do_round(self.conf, slot, self.clock, self.sequences)

    def latest(self) -> typing.Optional[Round]:
        """The last finished round."""
        return self.last

    def busy_since(self) -> typing.Optional[float]:
        """Never busy."""
        return None

    def flush(self, timeout: float) -> bool:
        """Everything submitted is done."""
        return True


class SlotIO(Inline):
    """Statefile rounds done by a daemon thread; ``submit`` never blocks."""

    def __init__(self, conf: XhadConfig, clock: typing.Callable[[], float] = time.monotonic) -> None:
        super(SlotIO, self).__init__(conf, clock)
        self.cond = threading.Condition()
        self.slot = None  # type: typing.Optional[hostslot.Slot]
        self.pending = False
        self.began = None  # type: typing.Optional[float]
        self.thread = threading.Thread(target=self._run, name="statefile-io", daemon=True)
        self.thread.start()

    def submit(self, slot: typing.Optional[hostslot.Slot]) -> None:
        """Queue ``slot`` (replacing one not yet written) for the next round."""
        with self.cond:
            if slot is not None:
                self.slot = slot
            self.pending = True
            self.cond.notify()

    def busy_since(self) -> typing.Optional[float]:
        """When the round in progress began; None when idle."""
        with self.cond:
            return self.began

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for every submitted round to finish; False when it did not."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.pending or self.began is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def _run(self) -> None:
        private_fd_table()
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                slot, self.slot, self.pending = self.slot, None, False
                self.began = self.clock()
            found = do_round(self.conf, slot, self.clock, self.sequences)
            with self.cond:
                self.last, self.began = found, None
                self.cond.notify_all()


def with_deadline(call: typing.Callable[[], typing.Any], timeout: float) -> str:
    """Run ``call`` in a daemon thread: "" when it returned within ``timeout``, else what went wrong."""
    done = threading.Event()
    failed = []  # type: typing.List[str]

    def run():
        try:
            private_fd_table()
            call()
        except Exception as e:  # reported to the caller, who only logs it
            failed.append("%s: %s" % (type(e).__name__, e))
        done.set()
    threading.Thread(target=run, daemon=True).start()
    if not done.wait(timeout):
        return "no answer within %.1f s" % timeout
    return failed[0] if failed else ""
