"""Every time the corosync-ha stack keeps, derived from xhad.conf's HeartbeatTimeout.

T is HeartbeatTimeout: xapi's ``ha-config:timeout`` (at least 10 s), the
time a host may be unresponsive before it is declared failed.  The stack
keeps xapi's meaning of it:

- no fence, no drop and no master change for any stack process (corosync,
  the monitor, the guard) or the whole host stalled up to ``STALL`` (0.8 T),
  for a statefile stalled or lost on any set of hosts for any time while
  the network is healthy, for a link flapping faster than T, for packet
  loss corosync's retransmits absorb;
- a truly failed host (cut, dead, paused past its deadline) fences itself
  by ``FENCE_BY`` (1.2 T) after the fault; survivors drop it, and may then
  propose a master, only after its fence deadline, by ``DROP_BY`` (1.5 T).

The budget, as fractions of T, and why (worst cases; "detect" is when
corosync shows a host's loss, on both sides of it):

- corosync's ``token`` is 0.9 T: a corosync (or a whole host) paused 0.8 T
  answers the token before any other node's timer runs out, with 0.1 T to
  spare for the token's way round.  knet's link pings (every T/40) time
  out only after 0.95 T (``knet_ping_timeout``), so a paused peer's link
  is not declared down first either (knet's default, token / 2, would).
  ``token_retransmits_before_loss_const`` is 10 (corosync's default 4): the
  token is resent every 0.09 T, so a lossy link must lose ten copies in a
  row, and a link cut for less than 0.9 T (flapping) loses nothing;
- ``consensus`` is 0.1 T (corosync's floor is its 50 ms join timeout; its
  default, 1.2 x token, would put detection past 2 T).  corosync's man page
  warns that a consensus below the token risks odd membership changes in
  pools of three or more: a node slower than the consensus to answer the
  others' join messages is left out of the new ring for a moment.  A link
  must be up before it carries a join: knet takes it as up after
  ``knet_pong_count`` (1) pong, one ping interval (T/40), well within the
  consensus, so a host that starts joins at once (with knet's default of 2
  pongs, a restarted host's links came up after the consensus ran out, and
  the ring split for a moment).  A lost host is detected at token +
  consensus = T, by the lost host and by the survivors alike, within
  ``skew`` (0.05 T) of each other;
- the monitor polls every ``poll`` (T/40).  It learns membership from
  corosync's libraries in a thread of its own (``corowatch``): changes as
  events, and every ``poll`` a round trip that proves corosync answers; a
  poll counts corosync as answering while that proof is at most ``step``
  old (``tool_timeout``, T/20, is how late it may be, as long as a
  corosync tool was given).  A lost connection is made again after
  ``poll``, then twice as long each time up to ``reconnect`` (0.1 T):
  until then corosync is silent.  A monitor's steps are at most ``step``
  (poll + tool_timeout = 0.075 T) apart, so a monitor stalled 0.8 T sees a
  gap of at most 0.875 T;
- a monitor that finds a gap between two of its steps longer than
  ``deadline`` (0.9 T) was unresponsive past its deadline: it fences before
  anything else.  A shorter gap longer than ``step_late`` (0.15 T) is its
  own stall, not corosync's: corosync's silence counts from the end of it;
- corosync silent for ``corosync_stale`` (0.9 T) of the monitor's awake
  time is a hung corosync: its host fences (by 0.9 T + step, before the
  survivors detect it at T);
- a cut host in a partition without a majority arbitrates through the
  statefile for at most ``arbitration`` (0.125 T: every other host's slot
  shows its new partition, or goes stale after ``slot_stale``, 0.1 T,
  within it), then loses; while another host's fresh slot still shows
  this host in its partition, that host cannot drop it (its corosync still
  has it), so the wait starts again: a membership in flux fences nobody.
  So a cut host fences at about T + poll + tool (a majority elsewhere) or
  T + 0.125 T + poll + tool (none): by 1.2 T;
- the fence guard fires when the monitor dies, when the monitor has shown
  no life for ``guard`` (0.9 T: a monitor stalled 0.8 T is no failure),
  or, after ``guard_check`` (0.25 T) without a sign of life, when the
  guard's own corosync query no longer shows the partition the monitor
  last accepted, nor a majority: so a host cut while its monitor stalls
  still fences by detect + skew + 0.25 T + tool_timeout + poll;
- the kernel watchdog (where there is one) is armed with ``watchdog``
  (0.9 T, whole seconds up) and petted by the guard every poll: a guard
  stalled 0.8 T is no failure; a host whose processes are frozen, or whose
  guard is gone, reboots by 0.9 T + 1 s;
- survivors drop a lost host ``drop_after`` (0.375 T = skew + guard_check
  + tool_timeout + poll) after corosync lost it, at about T + 0.375 T +
  poll = 1.4 T, or as soon as its slot says it fenced or left: never
  before its fence deadline, whichever of its monitor or its guard fences;
- statefile I/O runs in its own thread; a round taking longer than
  ``io_deadline`` (0.1 T) is statefile_lost, and nothing waits for it.
  The statefile only arbitrates a split without a majority.

A host paused past ``deadline`` but less than the drop time (1.4 T)
fences on resume before anyone drops it; one paused longer is dropped
while frozen and fences on resume before it acts: only the kernel watchdog
(which SIGSTOP does not stop) fences it in time, which is why its absence
is a warning.  The budget holds for one fault at a time: a host cut while
its guard stalls is fenced by the watchdog, at T + 0.9 T, after the
survivors dropped it.
"""

import math
import typing

DEFAULT_HEARTBEAT_TIMEOUT = 30  # seconds, when xhad.conf has no HeartbeatTimeout
DEFAULT_JOIN_TIMEOUT = 90  # seconds, when xhad.conf has no Boot/EnableJoinTimeout
STALL = 0.8  # x T: the longest stall of a process or a host that must change nothing
FENCE_BY = 1.2  # x T: a failed host has fenced itself by then
DROP_BY = 1.5  # x T: survivors have dropped a failed host by then
TOKEN_RETRANSMITS = 10  # corosync's token_retransmits_before_loss_const
KNET_PONG_COUNT = 1  # pongs before knet takes a link as up: one ping interval, well within the consensus
MIN_CONSENSUS_MS = 100  # corosync refuses a consensus below its join timeout (50 ms)


class Timing(object):
    """The stack's times in seconds (corosync's in ms) for one HeartbeatTimeout."""

    def __init__(self, heartbeat_timeout: float) -> None:
        t = float(heartbeat_timeout)
        if not 1 <= t <= 600:
            raise ValueError("HeartbeatTimeout %s s is out of range (1 to 600)" % heartbeat_timeout)
        self.heartbeat_timeout = t
        self.token_ms = int(t * 900)
        self.consensus_ms = max(MIN_CONSENSUS_MS, int(t * 100))
        self.token_retransmits = TOKEN_RETRANSMITS
        self.knet_ping_interval_ms = max(100, int(t * 25))
        self.knet_pong_count = KNET_PONG_COUNT
        self.knet_ping_timeout_ms = int(t * 950)
        self.poll = max(0.1, t / 40)
        self.tool_timeout = max(0.5, t / 20)
        self.reconnect = 0.1 * t
        self.step_late = 0.15 * t
        self.deadline = 0.9 * t
        self.corosync_stale = 0.9 * t
        self.slot_stale = 0.1 * t
        self.io_deadline = 0.1 * t
        self.arbitration = 0.125 * t
        self.guard_check = 0.25 * t
        self.guard = 0.9 * t
        self.watchdog = 0.9 * t
        self.fence_grace = t / 10
        self.fence_timeout = max(2.0, t / 4)
        self.view_stale = self.deadline
        # corosync may show a membership change up to this much later on one side than on the other
        self.skew = 0.05 * t

    @property
    def detect(self) -> float:
        """Seconds from a fault until corosync shows the membership without the lost host."""
        return (self.token_ms + self.consensus_ms) / 1000.0

    @property
    def step(self) -> float:
        """The longest gap between two steps of a monitor that is not stalled."""
        return self.poll + self.tool_timeout

    @property
    def drop_after(self) -> float:
        """After corosync lost a host, when it has surely fenced (its monitor or its guard did)."""
        return self.skew + self.guard_check + self.tool_timeout + self.poll

    @property
    def watchdog_seconds(self) -> int:
        """The kernel watchdog's timeout, whole seconds (``watchdog`` rounded up)."""
        return max(1, int(math.ceil(self.watchdog)))

    def to_dict(self) -> typing.Dict[str, float]:
        """Every figure, for the log and the benchmark."""
        names = ("heartbeat_timeout", "token_ms", "consensus_ms", "token_retransmits", "knet_ping_interval_ms",
                 "knet_ping_timeout_ms", "knet_pong_count", "poll", "tool_timeout", "reconnect", "step_late",
                 "deadline",
                 "corosync_stale", "slot_stale", "io_deadline", "arbitration", "guard_check", "guard", "watchdog",
                 "fence_grace", "fence_timeout", "view_stale", "skew")
        values = {name: getattr(self, name) for name in names}
        values.update(detect=self.detect, step=self.step, drop_after=self.drop_after)
        return values


def of_parameters(parameters: typing.Mapping[str, int]) -> Timing:
    """The Timing for xhad.conf's parameters (ValueError for a HeartbeatTimeout out of range)."""
    return Timing(parameters.get("HeartbeatTimeout", DEFAULT_HEARTBEAT_TIMEOUT))


def join_timeout(parameters: typing.Mapping[str, int], pool_state: str) -> int:
    """How long ha_start_daemon waits: EnableJoinTimeout in pool state init, else BootJoinTimeout."""
    name = "EnableJoinTimeout" if pool_state == "init" else "BootJoinTimeout"
    return parameters.get(name) or DEFAULT_JOIN_TIMEOUT
