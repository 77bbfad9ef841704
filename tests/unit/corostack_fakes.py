"""Fakes for driving the corosync-ha monitor one poll at a time: a clock, corosync and the guard pipe.

``FakeObserver`` stands in for corosync only: each poll answers the next
scripted partition (None: corosync does not answer), after moving the
clock by the next of ``stalls`` (the monitor paused at that step); its
``FakeWatcher`` records the expected votes asked for.
The statefile is a real 266,240-byte file in the test's directory,
written and read by the real ``Observer.statefile`` (its rounds done at
once: ``slotio.Inline``), and other hosts' slots are written into it with
``publish`` as their monitors would.
"""

from sm_clusterstack.corostack import corowatch, daemon, hostslot, monitor, settings, slotio, statefile, timing
from sm_clusterstack.corostack.observe import Observer
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
H = ["8f1c2a34-0000-4000-8000-00000000000%d" % i for i in range(1, 6)]


class Clock(object):
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeWatcher(object):
    """corosync's watcher thread as the monitor sees it: an expected-votes request is done by the next poll."""

    def __init__(self, clock):
        self.state = corowatch.State(True, clock(), None, {}, {}, None, None)
        self.votes = []  # the expected votes set, in order

    def request_expected_votes(self, votes):
        self.votes.append(votes)
        self.state = self.state._replace(expected=(len(self.votes), ""))
        return len(self.votes)

    def notes(self):
        return []


class FakeObserver(Observer):
    """The real statefile side, with corosync's answers scripted."""

    def __init__(self, conf, times, clock):
        super(FakeObserver, self).__init__(conf, times, clock, watcher=FakeWatcher(clock),
                                           io=slotio.Inline(conf, clock))
        self.answers = []
        self.stalls = []  # seconds the monitor is paused inside each next query
        self.quorate = True

    def corosync(self):
        if self.stalls:
            self.clock.now += self.stalls.pop(0)
        answer = self.answers.pop(0) if self.answers else self.last
        self.last = answer
        if answer is not None:
            self.last_answer = self.clock()
            self.quorate = 2 * len(answer) > len(self.conf.hosts)  # votequorum with every vote expected
            return set(answer)
        return None


class Pipe(object):
    """What the monitor sent to its guard."""

    def __init__(self):
        self.sent = []
        self.alive = True

    def send(self, char):
        if self.alive:
            self.sent.append(char)
        return self.alive


class Rig(object):
    """A monitor of host ``me`` of a pool of ``n`` hosts, on a real statefile, with T = 10 s."""

    def __init__(self, tmp_path, n=3, me=0, pool_state="active", master="", excluded=()):
        self.clock = Clock()
        self.conf = XhadConfig(GEN, [Host(h, "10.0.0.%d" % (i + 1)) for i, h in enumerate(H[:n])], H[me],
                               str(tmp_path / "statefile"), parameters={"HeartbeatTimeout": 10})
        with open(self.conf.statefile, "wb") as f:
            f.truncate(statefile.SIZE)
        statefile.initialise(self.conf.statefile, statefile.PoolState(GEN, pool_state, master, excluded))
        self.paths = daemon.Paths(str(tmp_path / "run"), str(tmp_path / "log" / "corosync-ha.log"))
        self.paths.make()
        self.timing = timing.Timing(10)
        self.observer = FakeObserver(self.conf, self.timing, self.clock)
        self.observer.last = [H[me]]
        self.pipe = Pipe()
        self.log = monitor.Log(self.paths.log_file, "test")
        self.monitor = monitor.Monitor(self.paths, self.conf, settings.Settings(), self.timing, self.log,
                                       self.pipe, self.observer, self.clock)
        self.seqs = {}

    def publish(self, host, state, partition, link_up=True):
        """Write ``host``'s slot as its monitor would (its seq moves each time)."""
        self.seqs[host] = self.seqs.get(host, 0) + 1
        with statefile.opened(self.conf.statefile, write=True) as fd:
            hostslot.write(fd, self.conf, hostslot.Slot(GEN, host, self.seqs[host], state, partition, link_up))

    def poll(self, partition="same", others=None, dt=0.25):
        """Advance the clock, publish the other hosts' slots, answer ``partition``, run one poll."""
        self.clock.now += dt
        for host, (state, part) in (others or {}).items():
            self.publish(host, state, part)
        if partition != "same":
            self.observer.answers.append(partition)
        self.monitor.poll()
        return self.monitor.state
