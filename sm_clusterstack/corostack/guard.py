"""The fence guard: fences the host when its monitor dies, hangs, or stalls while the host is lost.

The monitor and the guard share a pipe; the monitor writes one byte a
poll (the letters below): ARM, PET (all is well), FENCING (the monitor
runs the fence chain), DISARM (a clean stop: the guard exits), FENCED (the
monitor fenced the host itself).  While armed the guard fires (runs the
fence chain, stops corosync and marks the host's slot fenced) when:

- the pipe ends (the monitor died: nothing else holds its write end);
- the monitor has shown no life for Timing.guard (0.9 T: a monitor stalled
  0.8 T is no failure);
- the monitor has shown no life for Timing.guard_check (0.25 T) and the
  guard's own corosync query no longer shows the partition the monitor
  last accepted (its view), nor a majority: the host may have been cut
  while its monitor stalled, and the survivors will not wait for it.
  Not while the monitor says it is fencing: the host is lost, and the
  monitor fences it (a second chain would only repeat its attempts); the
  guard then stops petting the kernel watchdog, which reboots the host if
  the monitor's chain keeps failing.

The guard measures its own time as the monitor does: after a gap in its
own loop longer than Timing.step_late (the guard, or the whole host, was
paused) the monitor's silence counts from the guard's resumption, so a
whole host paused less than its deadline fences nobody (the monitor
judges its own pause).  Where the settings name a kernel watchdog device,
the guard opens it when armed and writes it on every turn of its loop
while it has not fired: a guard that dies or hangs is fenced by the
kernel after Timing.watchdog.

Run as ``python -m sm_clusterstack.corostack.guard RUNTIME_DIR SETTINGS FD``.
"""

import os
import select
import signal
import sys
import time
import typing

from sm_clusterstack.corostack import arbitration, daemon, fencing, hostslot, settings, slotio, statefile, timing
from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import corowatch, view
from sm_clusterstack.corostack.log import Log
from sm_clusterstack.stacks import xhadconf

# What the monitor writes to the guard's pipe, one letter at a time (monitor.GuardLink.send).
ARM = "a"  # the host is in the liveset with fencing armed: watch from now on
PET = "p"  # the monitor is alive and corosync answers
DISARM = "d"  # a clean stop or ha_disarm_fencing: stand down and exit
FENCED = "f"  # the monitor fenced the host itself: stand down and exit
FENCING = "c"  # the monitor is alive and runs the fence chain: fire only if it goes silent


class Guard(object):
    """The guard's state: armed or not, when the monitor last showed life, when the guard itself resumed."""

    def __init__(self, paths: daemon.Paths, conf: xhadconf.XhadConfig, config: settings.Settings,
                 times: timing.Timing, log: Log, clock: typing.Callable[[], float] = time.monotonic,
                 membership: typing.Optional[typing.Callable[[], typing.Optional[typing.Set[str]]]] = None) -> None:
        self.paths, self.conf, self.settings, self.timing, self.log = paths, conf, config, times, log
        self.clock = clock
        self.armed = False
        self.monitor_fencing = False
        self.last_pet = clock()
        self.last_turn = self.last_pet
        self.awake_since = self.last_pet
        self.watchdog = None  # type: typing.Optional[fencing.Watchdog]
        self.membership = membership or self._corosync_partition

    def handle(self, data: bytes) -> bool:
        """Act on bytes from the monitor; False when the guard is done."""
        for byte in data:
            char = chr(byte)
            if char == ARM and not self.armed:
                self.armed = True
                self.watchdog = fencing.Watchdog(self.settings.watchdog_device, self.timing.watchdog_seconds,
                                                 self.log)
                self.log.write("fence guard armed")
            elif char in (DISARM, FENCED):
                self.stand_down("disarmed" if char == DISARM else "the monitor fenced this host")
                return False
            elif char == FENCING and not self.monitor_fencing:
                self.monitor_fencing = True
                self.log.write("the monitor fences this host: the kernel watchdog is no longer petted")
            self.last_pet = self.clock()
        return True

    def turn(self) -> typing.Optional[str]:
        """One turn of the loop while armed: why the guard must fire now, or None (the watchdog is petted)."""
        now = self.clock()
        if now - self.last_turn > self.timing.step_late:
            self.awake_since = now  # the guard itself was paused: the monitor's silence counts from now
        self.last_turn = now
        silent = now - max(self.last_pet, self.awake_since)
        why = None
        if silent >= self.timing.guard:
            why = "the monitor has shown no life for %.1f s" % silent
        elif silent >= self.timing.guard_check and not self.monitor_fencing and not self.partition_holds():
            why = ("the monitor has shown no life for %.1f s and corosync no longer shows the partition "
                   "it accepted" % silent)
        if why is None and self.watchdog is not None and not self.monitor_fencing:
            self.watchdog.pet()
        return why

    def partition_holds(self) -> bool:
        """True when corosync answers with the partition the monitor last accepted, or a majority."""
        partition = self.membership()
        found = view.read(self.paths, float("inf"))  # however old: the monitor may be the one stalled
        if partition is None or found is None:
            return False
        if found.state == "online" and sorted(partition) == found.partition:
            return True
        counted = set(h.host_id.lower() for h in self.conf.hosts) - set(found.excluded)
        return arbitration.has_majority(partition, counted)

    def _corosync_partition(self) -> typing.Optional[typing.Set[str]]:
        membership = corowatch.current_membership(self.timing.tool_timeout)
        if membership is None:
            return None
        hosts = {node: host for host, node in coroconf.node_ids(self.conf).items()}
        return set(hosts[n] for n in membership.members if n in hosts)

    def stand_down(self, why: str) -> None:
        """Stop watching: the watchdog device is closed with its magic character."""
        if self.watchdog is not None:
            self.watchdog.stand_down()
        self.armed = False
        self.log.write("fence guard stands down: %s" % why)

    def fire(self, reason: str) -> None:
        """Fence the host, then stop corosync and say so in the slot; retried until it works.

        The watchdog is not petted any more: where there is one, the kernel
        reboots the host if the fence chain keeps failing.
        """
        if daemon.fencing_mode(self.paths) in ("unarmed", "disarmed", "fenced"):
            self.stand_down("the monitor stopped while fencing was %s" % daemon.fencing_mode(self.paths))
            return
        self.log.warning("fence guard fires: %s" % reason)
        s, t = self.settings, self.timing
        while not fencing.fence(s.fence_action, s.fence_escalation, s.fence_attempts, reason,
                                t.fence_timeout, t.fence_grace, self.log):
            time.sleep(max(t.poll, 1.0))
        mark_fenced(self.paths, self.conf, reason, t.io_deadline)
        if self.watchdog is not None:
            self.watchdog.stand_down()


def mark_fenced(paths: daemon.Paths, conf: xhadconf.XhadConfig, reason: str, timeout: float) -> None:
    """After a fence that returned: kill corosync, record the mode and the slot (best effort, ``timeout`` at most)."""
    pid = daemon.corosync_pid(paths)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    daemon.set_fencing(paths, "fenced")
    me = conf.local_host_id.lower()

    def write():
        with statefile.opened(conf.statefile, write=True) as fd:
            old = hostslot.read_all(fd, conf).get(me)
            seq = (old.seq if old is not None else 0) + 1000  # past anything the dead monitor wrote
            hostslot.write(fd, conf, hostslot.Slot(conf.generation_uuid, me, seq, "fenced", [me], True))
    slotio.with_deadline(write, timeout)


def watch(guard: Guard, fd: int) -> None:
    """Read the monitor's bytes until the guard is done or must fire."""
    while True:
        ready, _w, _x = select.select([fd], [], [], guard.timing.poll if guard.armed else None)
        if ready:
            data = os.read(fd, 4096)
            if not data:
                if guard.armed:
                    guard.fire("the monitor is gone")
                return
            if not guard.handle(data):
                return
        if guard.armed:
            why = guard.turn()
            if why is not None:
                guard.fire(why)
                return


def main(argv: typing.List[str]) -> int:
    """``RUNTIME_DIR SETTINGS FD``: guard until told to stop, or fire."""
    if len(argv) != 3 or not argv[2].isdigit():
        sys.stderr.write("usage: guard RUNTIME_DIR SETTINGS FD\n")
        return 2
    config = settings.load(argv[1])
    paths = daemon.Paths(argv[0], config.log_file)
    conf = xhadconf.from_dict(daemon.read_json(paths.xhad_data))
    daemon.set_process_name(daemon.GUARD_COMM)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the monitor (or the kernel) ends the guard
    log = Log(paths.log_file, "guard")
    watch(Guard(paths, conf, config, timing.of_parameters(conf.parameters), log), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
