"""Every time the corosync-ha stack keeps, derived from xhad.conf's HeartbeatTimeout.

T is HeartbeatTimeout (xapi writes t, at least 10 s).  The budget after a
fault at time 0 (a cut host, a hung corosync, a dead monitor), as fractions
of T:

- corosync's token is 0.2 T and its consensus 1.2 x token, so both sides of
  a cut see the new membership after about token + consensus = 0.44 T;
- the monitor polls corosync every ``poll`` (T/40); when corosync has not
  answered for ``corosync_stale`` (T/5) it counts as hung, and a hung
  corosync is a lost host;
- a host whose partition loses fences at once; one that cannot yet tell
  (no corosync majority) arbitrates through the statefile for at most
  ``arbitration`` (T/2), and loses when that runs out;
- the fence guard fires ``guard`` (T/2) after the monitor's last sign of
  life (at once when the monitor dies), so a dead or hung monitor still
  fences;
- ``fence_grace`` (T/10) is the time a started fence is given to take
  effect.

So a cut host fences at about 0.45 T, a hung corosync at about 0.25 T and
a dead monitor at once (worst case, a hung monitor, at 0.5 T).  Survivors
drop a lost host from their liveset only once its fence deadline has
passed: when its slot in the statefile says it fenced, or when its slot has
not changed for ``guard + fence_grace`` (then its guard has fired), or,
with no statefile to read, ``blind_drop`` after corosync lost it.  Only
then may a new master be proposed.
"""

import typing

DEFAULT_HEARTBEAT_TIMEOUT = 30  # seconds, when xhad.conf has no HeartbeatTimeout
DEFAULT_JOIN_TIMEOUT = 90  # seconds, when xhad.conf has no Boot/EnableJoinTimeout


class Timing(object):
    """The stack's times in seconds (corosync's in ms) for one HeartbeatTimeout."""

    def __init__(self, heartbeat_timeout: float) -> None:
        t = float(heartbeat_timeout)
        if not 1 <= t <= 600:
            raise ValueError("HeartbeatTimeout %s s is out of range (1 to 600)" % heartbeat_timeout)
        self.heartbeat_timeout = t
        self.token_ms = int(t * 200)
        self.consensus_ms = self.token_ms * 12 // 10
        self.poll = max(0.1, t / 40)
        self.tool_timeout = max(0.5, t / 20)
        self.corosync_stale = t / 5
        self.slot_stale = t / 5
        self.arbitration = t / 2
        self.guard = t / 2
        self.fence_grace = t / 10
        self.fence_timeout = max(2.0, t / 4)
        self.view_stale = max(2.0, t / 2)
        # corosync may see a membership change up to token + consensus later on one side than the other
        self.skew = (self.token_ms + self.consensus_ms) / 1000.0

    @property
    def slot_drop(self) -> float:
        """How long a lost host's slot must be still before its guard has surely fenced it."""
        return self.guard + self.fence_grace

    @property
    def blind_drop(self) -> float:
        """After corosync lost a host, when it is surely fenced, for a survivor that cannot read its slot."""
        return self.skew + self.corosync_stale + self.arbitration + self.guard + self.fence_grace

    def to_dict(self) -> typing.Dict[str, float]:
        """Every figure, for the log and the benchmark."""
        names = ("heartbeat_timeout", "token_ms", "consensus_ms", "poll", "tool_timeout", "corosync_stale",
                 "slot_stale", "arbitration", "guard", "fence_grace", "fence_timeout", "skew")
        values = {name: getattr(self, name) for name in names}
        values.update(slot_drop=self.slot_drop, blind_drop=self.blind_drop)
        return values


def of_parameters(parameters: typing.Mapping[str, int]) -> Timing:
    """The Timing for xhad.conf's parameters (ValueError for a HeartbeatTimeout out of range)."""
    return Timing(parameters.get("HeartbeatTimeout", DEFAULT_HEARTBEAT_TIMEOUT))


def join_timeout(parameters: typing.Mapping[str, int], pool_state: str) -> int:
    """How long ha_start_daemon waits: EnableJoinTimeout in pool state init, else BootJoinTimeout."""
    name = "EnableJoinTimeout" if pool_state == "init" else "BootJoinTimeout"
    return parameters.get(name) or DEFAULT_JOIN_TIMEOUT
