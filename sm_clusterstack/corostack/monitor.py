"""The monitor: one host's HA state machine, one poll every Timing.poll seconds.

States: ``joining`` (ha_start_daemon waits; never fences) -> ``online``
(the host is in the liveset; armed unless disarmed) -> ``fencing`` ->
``fenced``; ``lost`` is a partition lost while fencing was disarmed;
``blocked`` an excluded host that may not form a liveset (18); ``failed``
corosync died while joining; ``disabled``: the pool state became
``invalid`` (xapi's ``disable_ha`` through the statefile) and, like xhad
("Invalid pool state"), the host disarmed without fencing and the daemon
shuts itself down (corosync, the guard, the monitor).  Each poll it takes
the partition corosync last delivered (``observe``: its libraries' events,
kept by a thread, never waited for), publishes its slot and reads the others
(``observe``), applies the survival rules
(``arbitration``), keeps the committed liveset (a lost host leaves it only
past its fence deadline), pets the fence guard, and publishes its view for
the scripts (``view``).

Time, as sbd keeps it: every step starts by measuring the gap since the
monitor's previous step (and again after each call that may block).  A
gap past Timing.deadline means this host was unresponsive (paused,
stalled) for longer than the others wait before they may take over: it
fences before anything else, and no liveset, master lock or statefile
write of its own follows.  A shorter gap past Timing.step_late is the
monitor's own stall: corosync's silence is counted only from its end.
Statefile I/O runs in its own thread (``slotio``): it never blocks a step.
Nor does the fence chain (``FenceRun``): while it runs, every poll still
moves this host's slot, saying ``fencing`` (a survivor never drops a host
whose fresh slot says so: a fence that fails, or is slow, is never taken
over), and tells the guard it is fencing (``guard.FENCING``).
"""

import os
import signal
import sys
import threading
import time
import typing

from sm_clusterstack.corostack import arbitration, daemon, fencing, guard, settings, slotio, statefile, timing
from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import tools, view
from sm_clusterstack.corostack.log import Log
from sm_clusterstack.corostack.observe import Observer, Seen
from sm_clusterstack.stacks import xhadconf

SLOT_STATES = {"joining": "joining", "online": "online", "lost": "left", "fencing": "fencing",
               "fenced": "fenced", "blocked": "joining", "failed": "joining", "disabled": "left"}
ENDS = ("fenced", "failed", "disabled")  # the states in which the monitor's loop ends
DISABLE_FROM = ("joining", "online", "lost", "blocked")  # a host fencing finishes its fence first


class FenceRun(object):
    """The fence chain (``fencing.fence``) in a thread of its own; ``result`` once ``done``."""

    def __init__(self, chain: typing.Callable[[], bool]) -> None:
        self.result = False
        self.thread = threading.Thread(target=self._run, args=(chain,), name="fence", daemon=True)
        self.thread.start()

    def _run(self, chain: typing.Callable[[], bool]) -> None:
        self.result = bool(chain())

    def done(self, wait: float) -> bool:
        """Whether the chain has ended, waiting ``wait`` seconds at most."""
        self.thread.join(wait)
        return not self.thread.is_alive()


class GuardLink(object):
    """The write end of the pipe to the fence guard."""

    def __init__(self, fd: typing.Optional[int]) -> None:
        self.fd = fd
        if fd is not None:
            os.set_blocking(fd, False)

    def send(self, char: str) -> bool:
        """Send one byte; False when the guard is gone."""
        if self.fd is None:
            return False
        try:
            os.write(self.fd, char.encode())
        except BlockingIOError:
            pass  # the guard is not reading (hung): its own timeout is no concern of ours
        except OSError:
            return False
        return True


class Monitor(object):
    """The state machine; ``poll`` runs one step."""

    def __init__(self, paths: daemon.Paths, conf: xhadconf.XhadConfig, config: settings.Settings,
                 times: timing.Timing, log: Log, link: GuardLink, observer: typing.Optional[Observer] = None,
                 clock: typing.Callable[[], float] = time.monotonic) -> None:
        self.paths, self.conf, self.settings, self.timing, self.log = paths, conf, config, times, log
        self.guard = link
        self.observer = observer or Observer(conf, times, clock)
        self.clock = clock
        self.me = conf.local_host_id.lower()
        self.configured = set(h.host_id.lower() for h in conf.hosts)
        self.node_ids = coroconf.node_ids(conf)
        self.interface = conf.heartbeat_physical_interface or conf.heartbeat_interface
        self.state, self.reason = "joining", ""
        self.started = clock()
        self.partition = {self.me}
        self.committed = set()  # type: typing.Set[str]
        self.lost_since = {}  # type: typing.Dict[str, float]
        self.undecided_since = None  # type: typing.Optional[float]
        self.votes_set = None  # type: typing.Optional[int]
        self.pool = None  # type: typing.Optional[statefile.PoolState]
        self.pool_changed_at = None  # type: typing.Optional[float]  # when this monitor last changed the record
        self.seen = Seen()
        self.link_up = True
        self.guard_down = False
        self.last_step = clock()
        self.awake_since = self.last_step  # the end of the monitor's last stall: corosync's silence counts from here
        self.fence_failures = 0
        self.fence_run = None  # type: typing.Optional[FenceRun]
        self.watchdog = fencing.watchdog_problem(config.watchdog_device)
        # the kernel's reboot is one of the fences (an empty action): say how it is made where it is not sysrq
        self.kernel_fence = fencing.kernel_fence_note() if not (config.fence_action and config.fence_escalation) else ""

    def poll(self) -> None:
        """One step: check the time, observe, decide, pet, publish."""
        answer = self.observer.corosync() if self.awake() else None
        for note in self.observer.corosync_notes():
            self.log.write(note)
        answered = self.awake() and answer is not None
        if answered:
            self.partition = answer & self.configured | {self.me}
        self.link_up = tools.link_up(self.interface)
        self.seen = self.observer.statefile(SLOT_STATES[self.state], sorted(self.partition), self.link_up)
        if self.seen.pool is not None and (self.pool_changed_at is None or self.seen.read_at > self.pool_changed_at):
            self.pool = self.seen.pool  # not a round begun before this monitor's own change of the record
        now = self.clock()
        if self.pool is not None and self.pool.pool_state == "invalid" and self.state in DISABLE_FROM:
            self.disable()
        step = getattr(self, "_" + self.state, None)
        if step is not None:
            step(now, answered)
        if daemon.fencing_mode(self.paths) == "disarmed" and not self.guard_down:
            self.guard.send(guard.DISARM)  # ha_disarm_fencing: the guard stands down for good
            self.guard_down = True
        if self.state in ("joining", "online", "lost") and self.corosync_silent(now) < self.timing.corosync_stale:
            if not self.guard.send(guard.PET) and self.state == "online" and self.armed():
                self.lose("the fence guard is gone: this host could not fence")
        view.publish(self.paths, self, now)

    def awake(self) -> bool:
        """Measure the gap since the last step; False when this host overslept its deadline (it now fences)."""
        now = self.clock()
        gap, self.last_step = now - self.last_step, now
        if gap <= self.timing.step_late:
            return True
        self.awake_since = now
        if self.state not in ("joining", "online", "lost"):
            return self.state != "fencing"
        if gap <= self.timing.deadline or self.state == "joining":
            self.log.warning("the monitor was unresponsive for %.1f s (within its deadline, %.1f s)"
                             % (gap, self.timing.deadline))
            return True
        self.lose("this host was unresponsive for %.1f s, past its deadline (%.1f s)" % (gap, self.timing.deadline))
        return self.state != "fencing"

    def corosync_silent(self, now: float) -> float:
        """How long corosync has not answered while this monitor was awake to ask."""
        return now - max(self.observer.last_answer, self.awake_since)

    def armed(self) -> bool:
        """True when a lost partition must fence this host."""
        return daemon.fencing_mode(self.paths) == "armed"

    def _joining(self, now: float, answered: bool) -> None:
        if not answered and daemon.corosync_pid(self.paths) is None:
            self.state, self.reason = "failed", "corosync exited while joining"
            return
        if not answered or self.pool is None or not self.seen.access:
            return
        limit = timing.join_timeout(self.conf.parameters, self.pool.pool_state)
        subset = now - self.started >= limit - 2 * self.timing.slot_stale
        decision = arbitration.start(self.me, self.partition, self.configured, set(self.pool.excluded),
                                     self.pool.pool_state, self.seen.peers, subset, self.link_up, self.pool.master)
        if decision == "online":
            self.go_online()
        elif decision == "blocked":
            self.state, self.reason = "blocked", "excluded, and hosts not excluded may still hold the liveset"

    def go_online(self) -> None:
        """Join the liveset: finish init and clear our own exclusion in the statefile, commit, arm.

        The pool record is changed before this host says it is online, but
        waited for Timing.io_deadline at most (the change goes on in the
        background): not yet armed, this host fences nothing meanwhile.
        """
        me, configured, partition = self.me, self.configured, set(self.partition)

        def change(old):
            if old is not None:
                if old.pool_state == "init" and configured <= partition:
                    old.pool_state = "active"
                old.excluded = [h for h in old.excluded if h != me]
            return old

        def record():
            self.pool = statefile.update(self.conf.statefile, change)
            self.pool_changed_at = self.clock()
        problem = slotio.with_deadline(record, self.timing.io_deadline)
        if problem:
            self.log.warning("could not record the pool's start in the statefile: %s" % problem)
        self.committed = set(self.partition)
        self.state = "online"
        if self.watchdog:
            self.log.warning("no kernel watchdog: %s; a host paused past its deadline fences only once it "
                             "runs again" % self.watchdog)
        if self.kernel_fence:
            self.log.warning(self.kernel_fence)
        if daemon.fencing_mode(self.paths) == "unarmed":
            daemon.set_fencing(self.paths, "armed")
            self.guard.send(guard.ARM)
        self.log.write("online: liveset %s" % ", ".join(sorted(self.committed)))

    def _online(self, now: float, answered: bool) -> None:
        if not answered and self.corosync_silent(now) >= self.timing.corosync_stale:
            self.lose("corosync has not answered for %.1f s" % self.corosync_silent(now))
            return
        if self.pool is None:
            return
        self.update_committed(now)
        counted = self.configured - set(self.pool.excluded)
        peers = self.seen.peers if self.seen.access else None
        decision = arbitration.decide(self.me, self.partition, counted, peers, self.pool.master, self.link_up)
        if decision == arbitration.WIN:
            self.undecided_since = None
            self.lower_expected_votes()
        elif decision == arbitration.WAIT:
            if peers is not None and arbitration.still_counted_in(self.me, self.partition, peers):
                self.undecided_since = None  # a membership in flux: nobody who has this host may drop it
            self.undecided_since = self.undecided_since or now
            if now - self.undecided_since >= self.timing.arbitration:
                self.lose("no agreement on the statefile within %.1f s" % self.timing.arbitration)
        else:
            self.lose("partition %s lost the survival rules" % ", ".join(sorted(self.partition)))

    def update_committed(self, now: float) -> None:
        """Add the partition's hosts; drop a lost host once its fence deadline has passed."""
        for host in self.partition:
            self.committed.add(host)
            self.lost_since.pop(host, None)
        for host in sorted(self.committed - self.partition):
            lost_for = now - self.lost_since.setdefault(host, now)
            peer = self.seen.peers.get(host) if self.seen.access else None
            if arbitration.may_drop(peer, lost_for, self.timing.drop_after, self.me):
                self.committed.discard(host)
                self.lost_since.pop(host)
                self.log.write("host %s left the liveset (lost %.2f s ago)" % (host, lost_for))

    def lower_expected_votes(self) -> None:
        """Once every lost host is dropped, make corosync quorate for the survivors (OCFS2's DLM needs it)."""
        if self.observer.quorate:
            self.votes_set = None
            return
        lowest = min(self.partition, key=lambda h: self.node_ids[h])
        if self.committed != self.partition or lowest != self.me or self.votes_set == len(self.partition):
            return
        refused = self.observer.set_expected_votes(len(self.partition))
        if refused is None:
            return  # asked: votequorum's answer comes on a later poll
        self.log.write("expected votes set to %d: %s" % (len(self.partition), refused or "done"))
        if not refused:
            self.votes_set = len(self.partition)

    def lose(self, reason: str) -> None:
        """This host's partition lost: fence, unless fencing is disarmed or HA is being disabled."""
        if self.state in ("fencing",) + ENDS:
            return
        self.reason = reason
        invalid = self.pool is not None and self.pool.pool_state == "invalid"
        if not self.armed() or invalid:
            self.state = "lost"
            self.log.warning("%s; not fencing (%s)" % (reason, "pool state invalid" if invalid else "disarmed"))
            return
        self.state = "fencing"
        daemon.set_fencing(self.paths, "fencing")
        self.log.warning("lost: %s" % reason)

    def disable(self) -> None:
        """HA is being disabled (pool state invalid): disarm for good, never fence, tell the others we left."""
        self.state, self.reason = "disabled", "pool state invalid: HA is being disabled"
        if daemon.fencing_mode(self.paths) != "disarmed":
            daemon.set_fencing(self.paths, "disarmed")
        self.guard.send(guard.DISARM)
        self.guard_down = True
        self.observer.statefile(SLOT_STATES[self.state], sorted(self.partition), self.link_up)
        self.observer.io.flush(self.timing.io_deadline)
        self.log.warning("invalid pool state: HA daemon started shutdown process")

    def _fencing(self, now: float, answered: bool) -> None:
        s, t = self.settings, self.timing
        if self.fence_run is None:
            reason = self.reason
            self.fence_run = FenceRun(lambda: fencing.fence(s.fence_action, s.fence_escalation, s.fence_attempts,
                                                            reason, t.fence_timeout, t.fence_grace, self.log))
        if not self.fence_run.done(t.poll):
            self.guard.send(guard.FENCING)  # alive, fencing: this poll moved the slot (it says fencing)
            return
        succeeded, self.fence_run = self.fence_run.result, None
        if succeeded:
            self.guard.send(guard.FENCED)
            guard.mark_fenced(self.paths, self.conf, self.reason, t.io_deadline)
            self.state = "fenced"
        else:
            self.fence_failures += 1

    def stop(self) -> None:
        """A clean stop (SIGTERM): when disarmed, stand the guard down and tell the others we left."""
        if daemon.fencing_mode(self.paths) != "armed" and self.state != "fencing":
            self.guard.send(guard.DISARM)
            self.observer.statefile("left", sorted(self.partition), self.link_up)
            self.observer.io.flush(self.timing.io_deadline)
            self.log.write("stopped")


def main(argv: typing.List[str]) -> int:
    """``RUNTIME_DIR SETTINGS FD``: monitor until SIGTERM or fenced."""
    if len(argv) != 3 or not argv[2].isdigit():
        sys.stderr.write("usage: monitor RUNTIME_DIR SETTINGS FD\n")
        return 2
    config = settings.load(argv[1])
    paths = daemon.Paths(argv[0], config.log_file)
    conf = xhadconf.from_dict(daemon.read_json(paths.xhad_data))
    daemon.set_process_name(daemon.MONITOR_COMM)
    log = Log(paths.log_file, "monitor")
    times = timing.of_parameters(conf.parameters)
    monitor = Monitor(paths, conf, config, times, log, GuardLink(int(argv[2])))
    monitor.observer.start()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log.write("started (pid %d), timing %s" % (os.getpid(), times.to_dict()))
    while not stopping and monitor.state not in ENDS:
        began = time.monotonic()
        monitor.poll()
        time.sleep(max(0.0, min(times.poll, times.poll - (time.monotonic() - began))))
    if stopping:
        monitor.stop()
    elif monitor.state == "disabled":
        shut_down(paths, log)
    return 0


def shut_down(paths: daemon.Paths, log: Log) -> None:
    """After ``disabled``: stop corosync, let the guard (told to stand down) exit, withdraw the view."""
    try:
        daemon.stop_process(lambda: daemon.corosync_pid(paths), daemon.STOP_TIMEOUT)
        if not daemon.wait_for(lambda: daemon.guard_pid(paths) is None, daemon.STOP_TIMEOUT):
            daemon.stop_process(lambda: daemon.guard_pid(paths), 0.0)
    except daemon.DaemonError as e:
        log.warning("shutting down: %s" % e)
    try:
        os.unlink(paths.view)
    except FileNotFoundError:
        pass
    log.write("stopped: HA disabled (pool state invalid)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
