"""The monitor's published view (``view.json`` in the runtime directory), read by the scripts.

The monitor rewrites it on every poll; ``time`` is CLOCK_MONOTONIC (the
same in every process of the machine), so a reader can tell a hung
monitor (a view older than Timing.view_stale, the monitor's own deadline:
its writer fences when it runs again) from a live one.  It holds what the
liveset needs (a ``View``): state, committed liveset, partition, statefile
access, pool record, latencies, warnings, each host's raw data, and the
stack's notes: why there is no kernel watchdog, how the kernel's reboot is
made where it is not sysrq, how often a fence failed.
"""

import collections
import time
import typing

from sm_clusterstack.corostack import daemon

STATUS = {"online": "Online"}  # every other state is Starting: this host is not (or no more) in a liveset

View = collections.namedtuple("View", [
    "time",  # CLOCK_MONOTONIC when the monitor wrote it
    "state",  # the monitor's state: starting, online, blocked, failed, fencing, fenced, disabled...
    "reason",  # why it is in that state (a failed start's reason), "" when none
    "committed",  # host ids (lower case) of the committed liveset, sorted
    "partition",  # host ids in this host's corosync partition, sorted
    "statefile_access",  # this host's own statefile reads succeed
    "statefile_corrupted",  # what this host reads is not a statefile
    "master",  # the host id the statefile names master, "" when none
    "excluded",  # host ids the statefile records excluded
    "pool_state",  # the statefile's pool state (init, active, invalid), "" when unread
    "statefile_latency",  # (last, min, max) in ms
    "heartbeat_latency",  # (last, min, max) in ms
    "warnings",  # xapi's five warnings: {name: bool}
    "raw_hosts",  # {host id: xapi's host_raw_data fields}
    "watchdog",  # why this host has no kernel watchdog, "" when it has one
    "kernel_fence",  # how the kernel's reboot is made where it is not sysrq (fencing.kernel_fence_note), or ""
    "fence_failures",  # how often this host's fence chain failed so far
    "statefile_io",  # why this host's statefile I/O is buffered (O_DIRECT refused), "" when O_DIRECT
    "statefile_damaged",  # {host id: why its slot was not trusted} in the last statefile round
])
View.__doc__ = "What the monitor saw at one poll, as ha_query_liveset and the other scripts read it."

_LATENCY_KEYS = {"statefile_latency": "statefile", "heartbeat_latency": "heartbeat"}  # field: key in "latency"
_JSON_KEYS = {"raw_hosts": "hosts"}  # field: its key in view.json, where the two differ
# fields a view.json of an older daemon lacks: their defaults
_ADDED = {"watchdog": "", "kernel_fence": "", "fence_failures": 0, "statefile_io": "", "statefile_damaged": {}}


def to_json(found: View) -> dict:
    """``found`` as view.json holds it."""
    data = {_JSON_KEYS.get(name, name): value for name, value in found._asdict().items()
            if name not in _LATENCY_KEYS}
    data["latency"] = {key: list(getattr(found, name)) for name, key in _LATENCY_KEYS.items()}
    return data


def from_json(data: dict) -> View:
    """The View view.json holds (KeyError when a field is missing)."""
    values = dict(_ADDED)
    values.update({name: data[_JSON_KEYS.get(name, name)] for name in View._fields
                   if name not in _LATENCY_KEYS and (name not in _ADDED or name in data)})
    values.update({name: tuple(data["latency"][key]) for name, key in _LATENCY_KEYS.items()})
    return View(**values)


def warnings(monitor: typing.Any) -> typing.Dict[str, bool]:
    """xapi's five warnings, as this host can tell them."""
    t = monitor.timing
    obs = monitor.observer
    peers_down = [h for h in monitor.partition - {monitor.me} if obs.links.get(h) is False]
    return {
        "statefile_lost": not monitor.seen.access,
        "heartbeat_approaching_timeout": bool(peers_down) or obs.heartbeat.last > t.heartbeat_timeout * 500,
        "statefile_approaching_timeout": obs.statefile_latency.last > t.slot_stale * 500,
        "Xapi_healthcheck_approaching_timeout": False,  # this stack runs no xapi health check
        "network_bonding_error": not monitor.link_up,
    }


def raw_hosts(monitor: typing.Any, now: float) -> typing.Dict[str, dict]:
    """Each configured host's raw data (times in ms), as xapi's host_raw_data wants them."""
    found = {}
    for host in sorted(monitor.configured):
        peer = monitor.seen.peers.get(host)
        heard = 0.0 if host in monitor.partition else now - monitor.lost_since.get(host, monitor.started)
        found[host] = {
            "time_since_last_update_on_statefile": int(monitor.observer.since_update(host) * 1000),
            "time_since_last_heartbeat": int(heard * 1000),
            "time_since_xapi_restart_first_attempted": 0,
            "heartbeat_active_list_on_heartbeat": sorted(monitor.partition) if host in monitor.partition else [],
            "heartbeat_active_list_on_statefile": list(peer.slot.partition) if peer and peer.slot else [],
        }
    return found


def of_monitor(monitor: typing.Any, now: float) -> View:
    """The view of ``monitor`` (a monitor.Monitor) now."""
    pool = monitor.pool
    obs = monitor.observer
    io = getattr(obs, "round", None)  # the last statefile round (a slotio.Round), None before the first
    return View(
        time=time.monotonic(), state=monitor.state, reason=monitor.reason,
        committed=sorted(monitor.committed), partition=sorted(monitor.partition),
        statefile_access=monitor.seen.access, statefile_corrupted=monitor.seen.corrupted,
        master=pool.master if pool else "", excluded=list(pool.excluded) if pool else [],
        pool_state=pool.pool_state if pool else "",
        statefile_latency=tuple(obs.statefile_latency.triple()), heartbeat_latency=tuple(obs.heartbeat.triple()),
        warnings=warnings(monitor), raw_hosts=raw_hosts(monitor, now),
        watchdog=monitor.watchdog, kernel_fence=monitor.kernel_fence, fence_failures=monitor.fence_failures,
        statefile_io=io.buffered if io else "", statefile_damaged=dict(io.damaged) if io else {})


def publish(paths: daemon.Paths, monitor: typing.Any, now: float) -> None:
    """Write the view of ``monitor`` (a monitor.Monitor)."""
    daemon.write_json(paths.view, to_json(of_monitor(monitor, now)))


def read(paths: daemon.Paths, stale_after: float) -> typing.Optional[View]:
    """The current view; None when there is none or it is older than ``stale_after`` (a hung monitor)."""
    found = daemon.read_json(paths.view)
    if not isinstance(found, dict) or not isinstance(found.get("time"), (int, float)):
        return None
    return from_json(found) if time.monotonic() - found["time"] <= stale_after else None
