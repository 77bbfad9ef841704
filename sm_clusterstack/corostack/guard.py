"""The fence guard: fences the host when its monitor dies or hangs while armed.

The monitor and the guard share a pipe; the monitor writes one byte a
poll (the letters below): ARM, PET (all is well), DISARM (a clean stop:
the guard exits), FENCED (the monitor fenced the host itself).  While
armed, the end of the pipe (the monitor died: nothing else holds its
write end) or no pet for Timing.guard seconds runs the fence chain, then
stops corosync and marks the host's slot fenced.  Where the settings name
a watchdog device that exists, the guard opens it when armed and writes it
on every pet, so that a dead guard is fenced by the kernel too.

Run as ``python -m sm_clusterstack.corostack.guard RUNTIME_DIR SETTINGS FD``.
"""

import os
import select
import signal
import sys
import time
import typing

from sm_clusterstack.corostack import daemon, fencing, hostslot, settings, statefile, timing
from sm_clusterstack.corostack.log import Log
from sm_clusterstack.stacks import xhadconf

# What the monitor writes to the guard's pipe, one letter at a time (monitor.GuardLink.send).
ARM = "a"  # the host is in the liveset with fencing armed: watch from now on
PET = "p"  # the monitor is alive and corosync answers
DISARM = "d"  # a clean stop or ha_disarm_fencing: stand down and exit
FENCED = "f"  # the monitor fenced the host itself: stand down and exit


class Guard(object):
    """The guard's state: armed or not, and when the monitor last showed life."""

    def __init__(self, paths: daemon.Paths, conf: xhadconf.XhadConfig, config: settings.Settings,
                 times: timing.Timing, log: Log) -> None:
        self.paths, self.conf, self.settings, self.timing, self.log = paths, conf, config, times, log
        self.armed = False
        self.last_pet = time.monotonic()
        self.watchdog = None  # type: typing.Optional[fencing.Watchdog]

    def handle(self, data: bytes) -> bool:
        """Act on bytes from the monitor; False when the guard is done."""
        for byte in data:
            char = chr(byte)
            if char == ARM and not self.armed:
                self.armed = True
                self.watchdog = fencing.Watchdog(self.settings.watchdog_device, self.timing.guard, self.log)
                self.log.write("fence guard armed")
            elif char in (DISARM, FENCED):
                self.stand_down("disarmed" if char == DISARM else "the monitor fenced this host")
                return False
            self.last_pet = time.monotonic()
            if self.watchdog is not None:
                self.watchdog.pet()
        return True

    def stand_down(self, why: str) -> None:
        """Stop watching: the watchdog device is closed with its magic character."""
        if self.watchdog is not None:
            self.watchdog.stand_down()
        self.armed = False
        self.log.write("fence guard stands down: %s" % why)

    def fire(self, reason: str) -> None:
        """Fence the host (the monitor is dead or hung), then stop corosync and say so in the slot."""
        if daemon.fencing_mode(self.paths) in ("unarmed", "disarmed", "fenced"):
            self.stand_down("the monitor stopped while fencing was %s" % daemon.fencing_mode(self.paths))
            return
        self.log.warning("fence guard fires: %s" % reason)
        s, t = self.settings, self.timing
        while not fencing.fence(s.fence_action, s.fence_escalation, s.fence_attempts, reason,
                                t.fence_timeout, t.fence_grace, self.log):
            time.sleep(t.poll)
        mark_fenced(self.paths, self.conf, reason)
        if self.watchdog is not None:
            self.watchdog.stand_down()


def mark_fenced(paths: daemon.Paths, conf: xhadconf.XhadConfig, reason: str) -> None:
    """After a fence that returned: kill corosync, record the mode and the slot (best effort)."""
    pid = daemon.corosync_pid(paths)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    daemon.set_fencing(paths, "fenced")
    me = conf.local_host_id.lower()
    try:
        with statefile.opened(conf.statefile, write=True) as fd:
            old = hostslot.read_all(fd, conf).get(me)
            seq = (old.seq if old is not None else 0) + 1000  # past anything the dead monitor wrote
            hostslot.write(fd, conf, hostslot.Slot(conf.generation_uuid, me, seq, "fenced", [me], True))
    except (statefile.StatefileError, statefile.StatefileCorrupt, OSError):
        pass


def watch(guard: Guard, fd: int) -> None:
    """Read the monitor's bytes until the guard is done or must fire."""
    while True:
        timeout = guard.timing.guard - (time.monotonic() - guard.last_pet) if guard.armed else None
        ready, _w, _x = select.select([fd], [], [], max(0.0, timeout) if timeout is not None else None)
        if ready:
            data = os.read(fd, 4096)
            if not data:
                if guard.armed:
                    guard.fire("the monitor is gone")
                return
            if not guard.handle(data):
                return
        elif guard.armed:
            guard.fire("the monitor has shown no life for %.1f s" % guard.timing.guard)
            return


def main(argv: typing.List[str]) -> int:
    """``RUNTIME_DIR SETTINGS FD``: guard until told to stop, or fire."""
    if len(argv) != 3 or not argv[2].isdigit():
        sys.stderr.write("usage: guard RUNTIME_DIR SETTINGS FD\n")
        return 2
    config = settings.load(argv[1])
    paths = daemon.Paths(argv[0], config.log_file)
    conf = xhadconf.load(paths.xhad_conf)
    daemon.set_process_name(daemon.GUARD_COMM)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the monitor (or the kernel) ends the guard
    log = Log(paths.log_file, "guard")
    watch(Guard(paths, conf, config, timing.of_parameters(conf.parameters), log), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
