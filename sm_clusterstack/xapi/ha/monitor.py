"""xapi's HA runtime: the shim takes membership from the cluster stack (``ocaml/xapi/xapi_ha.ml``).

``Runtime`` runs one monitor per host (``Monitor``), a job of
``Runtime.jobs`` (``ha.jobs``: each round a step under the HA lock): every
interval it runs ``ha_query_liveset`` on that host (in its sandbox) and
parses it with the one liveset model.  On the master's thread the liveset
sets ``host_metrics.live``/``last_updated``, ``host.ha_statefiles`` and
``host.ha_network_peers`` of every host (``process_liveset_on_master``); on
a slave's, a master that is not live and flagged makes that slave run
``ha_propose_master`` (``on_master_failure``); the one answered TRUE becomes
``pool.master``.  Each host's warnings that turn on become pool messages.
A query that fails (exit 14 or any other, output xapi would refuse or
over the cap, no answer within ``query_timeout``) stops that host's
monitoring, as xapi's monitor thread stops ("deactivating HA failover
thread"): no liveness from it, no failover from it.  Where xapi's thread
stays stopped until xapi restarts, unseen, the shim says it at once (a
pool message, ``HA_MONITOR_STOPPED``, or ``HA_HOST_DAEMON_STOPPED`` when
the daemon is gone; and ``pool.get_ha_monitors``, a line of ``ha
status``), and retries the query on a back-off, one interval then
doubling up to ``MAX_BACKOFF`` intervals, so that a stack that recovers
is monitored again (``HA_MONITOR_RESUMED``).  A sandboxed host whose
daemon is gone is rebooted instead (``on_fenced``).  A host's restart,
rejoin, clean shutdown and boot are ``lifecycle``'s.
"""

import collections
import logging
import threading
import time
import typing

from sm_clusterstack.stacks import liveset as liveset_mod
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.ha import jobs as jobs_mod

LOG = logging.getLogger("sm_clusterstack.xapi")
DEFAULT_INTERVAL = 20.0  # Xapi_globs.ha_monitor_interval
RESTART_RETRY = 10.0  # on_server_restart: "will retry in 10s"
# Api_messages names of the per-host warnings (name, priority)
DAEMON_STOPPED = "HA_HOST_DAEMON_STOPPED"  # the shim's own message: a host's daemon stopped with HA on
MONITOR_STOPPED = "HA_MONITOR_STOPPED"  # the shim's own: a host's liveset query failed, its monitoring stopped
MONITOR_RESUMED = "HA_MONITOR_RESUMED"  # the shim's own: the query answers again
MAX_BACKOFF = 16  # intervals between two retries of a stopped monitor, at most (320 s at xapi's 20 s)
MIN_QUERY_TIMEOUT = 10.0  # seconds: a monitor's query may take one interval, and at least this
WARNING_MESSAGES = {
    "statefile_lost": ("HA_STATEFILE_LOST", 2),
    "heartbeat_approaching_timeout": ("HA_HEARTBEAT_APPROACHING_TIMEOUT", 5),
    "statefile_approaching_timeout": ("HA_STATEFILE_APPROACHING_TIMEOUT", 5),
    "Xapi_healthcheck_approaching_timeout": ("HA_XAPI_HEALTHCHECK_APPROACHING_TIMEOUT", 5),
    "network_bonding_error": ("HA_NETWORK_BONDING_ERROR", 3),
}


def add_message(ctx, name: str, priority: int, cls: str, obj_uuid: str, body: str) -> None:
    """A pool message (``message.get_all_records``), and the same as a log line."""
    LOG.warning("message %s (%s %s): %s", name, cls, obj_uuid, body)
    with ctx.store.write() as conn:
        store_mod.insert(conn, "message", {"ref": store_mod.new_ref(), "uuid": store_mod.new_uuid(), "name": name,
                                           "priority": priority, "cls": cls, "obj_uuid": obj_uuid,
                                           "timestamp": time.time(), "body": body})


class Runtime(object):
    """The HA jobs of one shim (``jobs``: monitors, rejoins, reboots), and the lock of master changes."""

    def __init__(self, ctx, interval: float = DEFAULT_INTERVAL,
                 on_fenced: typing.Optional[typing.Callable[..., None]] = None) -> None:
        self.ctx = ctx
        self.interval = interval
        self.jobs = jobs_mod.Jobs(ctx)
        self.monitors = {}  # type: typing.Dict[str, jobs_mod.Job]
        self.warnings = {}  # type: typing.Dict[str, typing.Dict[str, bool]]
        self.lock = threading.Lock()
        self.master_lock = threading.Lock()
        self.down = set()  # type: typing.Set[str]  # hosts shut down cleanly: never marked live
        # (job, ctx, runtime, host): a sandboxed host fenced, a job of its own (lifecycle.reboot_fenced)
        self.on_fenced = on_fenced
        self.rebooting = set()  # type: typing.Set[str]  # sandboxed hosts whose reboot is being played
        self.disarmed = set()  # type: typing.Set[str]  # hosts HA was disabled on in an emergency: no rejoin
        self.stopped = {}  # type: typing.Dict[str, Stopped]  # hosts whose monitoring stopped, being retried
        self.query_timeout = max(interval, MIN_QUERY_TIMEOUT)

    def start_host(self, host: str, epoch: typing.Optional[int] = None) -> None:
        """Start the monitor of ``host`` (no-op when it runs; nothing when ``epoch`` is past)."""
        with self.lock:
            job = self.monitors.get(host)
            if job is not None and job.alive() and not job.ended.is_set():
                return
            job = self.jobs.start("ha-monitor-" + host[-8:], self._run, host, epoch=epoch)
            if job is not None:
                self.monitors[host] = job

    def start_all(self) -> None:
        """Start every host's monitor."""
        for host in _hosts(self.ctx):
            self.start_host(host)

    def stop_host(self, host: str, wait: bool = True) -> None:
        """Stop the monitor of ``host`` and wait for it (unless called from that thread)."""
        with self.lock:
            job = self.monitors.pop(host, None)
        if job is not None:
            job.end()
            if wait:
                job.join(self.ctx.script_timeout)

    def stop_all(self) -> None:
        """End every HA job (monitors, rejoins, reboots) and wait for them."""
        self.jobs.end_all()

    def running(self) -> typing.List[str]:
        """Hosts whose monitor runs (stopped and retried, or monitoring)."""
        with self.lock:
            return [h for h, job in self.monitors.items() if job.alive() and not job.ended.is_set()]

    def states(self) -> typing.Dict[str, str]:
        """{host: "" while it is monitored, or why its monitoring stopped, since when, the next try}."""
        with self.lock:
            found = {h: "" for h, job in self.monitors.items() if job.alive() and not job.ended.is_set()}
            found.update({h: s.describe() for h, s in self.stopped.items()})
        return found

    def _run(self, job: jobs_mod.Job, host: str) -> None:
        delay = self.interval
        try:
            while True:
                job.sleep(delay)
                try:
                    with self.jobs.step(job):
                        self.once(host)
                except _Stop as e:
                    if self._after_stop(job, host, e):
                        return  # a reboot took over
                    delay = self._stopped(host, e)
                    continue
                except jobs_mod.Ended:
                    raise
                except Exception:  # a monitor never dies silently
                    LOG.exception("HA monitor of host %s: unexpected error; it carries on", _uuid(self.ctx, host))
                    continue
                self._resumed(host)
                delay = self.interval
        finally:
            with self.lock:
                self.stopped.pop(host, None)

    def _stopped(self, host: str, why: "_Stop") -> float:
        """Record that ``host``'s monitoring stopped (said the first time); the delay before the next try."""
        with self.lock:
            before = self.stopped.get(host)
            tries = before.tries + 1 if before is not None else 0
            delay = self.interval * min(2 ** tries, MAX_BACKOFF)
            self.stopped[host] = Stopped(why.reason, before.since if before else time.time(), tries, delay)
        if before is None:
            uuid = _uuid(self.ctx, host)
            LOG.error("HA monitor of host %s stopped: %s; retrying after %g s, doubling up to %g s", uuid, why,
                      delay, self.interval * MAX_BACKOFF)
            if not why.daemon_gone:  # a gone daemon is HA_HOST_DAEMON_STOPPED (_after_stop)
                add_message(self.ctx, MONITOR_STOPPED, 2, "Host", uuid,
                            "the HA monitor of host %s stopped: %s; its liveness is not updated and failover does "
                            "not run from it; the query is retried, every %g s at most" % (
                                uuid, why.reason, self.interval * MAX_BACKOFF))
        return delay

    def _resumed(self, host: str) -> None:
        with self.lock:
            before = self.stopped.pop(host, None)
        if before is not None:
            uuid = _uuid(self.ctx, host)
            add_message(self.ctx, MONITOR_RESUMED, 5, "Host", uuid, "the HA monitor of host %s answers again "
                        "(stopped %.0f s: %s)" % (uuid, time.time() - before.since, before.reason))

    def _after_stop(self, job: jobs_mod.Job, host: str, why: "_Stop") -> bool:
        """A host whose daemon is gone while HA is on is fencing, fenced or crashed: said, then rebooted.

        The pool is told at once, with what the host's stack said (a
        fencing host's reason, how often its fence failed): that is the
        loud part of a fence that does not take effect.  On a real host the
        fence is a reboot, after which xapi starts and retries
        ``ha_start_daemon`` (``on_server_restart``).  A sandboxed host does
        not reboot by itself: ``on_fenced`` (``lifecycle.reboot_fenced``)
        plays that reboot, a job of its own, once the survivors have
        dropped the host.  True when that reboot takes over from the monitor.
        """
        if not why.daemon_gone or job.ended.is_set() or host in self.down or not ha_enabled(self.ctx):
            return False
        with self.lock:
            first = host not in self.stopped
        if first:
            add_message(self.ctx, DAEMON_STOPPED, 2, "Host", _uuid(self.ctx, host),
                        "the HA daemon of host %s stopped: %s; the host is taken over once the survivors drop it "
                        "(its fence done) or it is declared dead" % (_uuid(self.ctx, host), why.reason))
        if self.on_fenced is None or not self.ctx.sandboxes:
            return False
        LOG.warning("host %s: its HA daemon is gone with HA on (fenced): it will boot again", _uuid(self.ctx, host))
        with self.lock:
            if self.monitors.get(host) is job:
                self.monitors.pop(host)
        self.jobs.start("ha-reboot-" + host[-8:], self.on_fenced, self.ctx, self, host, epoch=job.epoch)
        return True

    def once(self, host: str) -> None:
        """One round of ``host``'s monitor: query, warnings, then the master's or a slave's part."""
        with self.ctx.store.read() as conn:
            pool = records.pool_row(conn)
            if not pool["ha_enabled"]:
                raise _Stop("HA is not enabled")
            stack, master = pool["ha_cluster_stack"], pool["master"]
        found = query(self.ctx, host, stack, self.query_timeout)
        self._warnings(host, found)
        if host == master:
            process_on_master(self.ctx, found, self.down)
        else:
            self._process_on_slave(host, stack, master, found)

    def _warnings(self, host: str, found: liveset_mod.Liveset) -> None:
        before = self.warnings.get(host, {})
        for name, on in found.warnings.items():
            if on and not before.get(name) and name in WARNING_MESSAGES:
                message, priority = WARNING_MESSAGES[name]
                add_message(self.ctx, message, priority, "Host", _uuid(self.ctx, host),
                            "HA warning %s on host %s" % (name, _uuid(self.ctx, host)))
        self.warnings[host] = dict(found.warnings)

    def _process_on_slave(self, host: str, stack: str, master: str, found: liveset_mod.Liveset) -> None:
        """``process_liveset_on_slave``: a master not live or not flagged means ``on_master_failure``."""
        seen = found.find(_uuid(self.ctx, master))
        if seen is not None and seen.liveness and seen.master:
            return
        LOG.warning("host %s: the liveset says master %s is gone", _uuid(self.ctx, host), _uuid(self.ctx, master))
        self.on_master_failure(host, stack, master)

    def on_master_failure(self, host: str, stack: str, old_master: str) -> None:
        """Propose ``host`` as master; on TRUE it becomes ``pool.master`` (one change at a time)."""
        with self.master_lock:
            with self.ctx.store.read() as conn:
                if records.master(conn) != old_master:
                    return  # another survivor took over meanwhile
            try:
                proposed = onhost.stack_on(self.ctx, host, stack).propose_master()
            except onhost.InvalidAnswer as e:  # xapi reads anything but TRUE as "no"
                LOG.warning("host %s: %s", _uuid(self.ctx, host), e)
                return
            if not proposed:
                LOG.info("host %s: ha_propose_master answered FALSE", _uuid(self.ctx, host))
                return
            with self.ctx.store.write() as conn:
                store_mod.update(conn, "pool", records.pool_row(conn)["ref"], master=host)
        add_message(self.ctx, "HA_POOL_MASTER_CHANGED", 4, "Pool", _pool_uuid(self.ctx),
                    "host %s took over as master from %s" % (_uuid(self.ctx, host), _uuid(self.ctx, old_master)))


class Stopped(collections.namedtuple("Stopped", "reason since tries delay")):
    """A host's stopped monitoring: why, since when (time.time), how many retries failed, the next delay."""

    def describe(self) -> str:
        return "stopped since %s (%s); retried every %g s" % (
            time.strftime("%H:%M:%S", time.localtime(self.since)), self.reason, self.delay)


class _Stop(Exception):
    """The monitor of a host must stop (as xapi's ``request_shutdown``); ``daemon_gone``: exit 14.

    ``reason``: what the host's stack said (for the pool message).
    """

    def __init__(self, message: str, daemon_gone: bool = False, reason: str = "") -> None:
        super(_Stop, self).__init__(message)
        self.daemon_gone = daemon_gone
        self.reason = reason or message


def query(ctx, host: str, stack: str, timeout: typing.Optional[float] = None) -> liveset_mod.Liveset:
    """The host's liveset; _Stop on exit 14, any other failure, or one that does not parse.

    ``timeout``: the query's own bound (the monitor's), else the scripts' safety net.
    """
    try:
        return onhost.stack_on(ctx, host, stack, timeout).query_liveset()
    except onhost.DaemonAbsent as e:
        raise _Stop("MTC_EXIT_DAEMON_IS_NOT_PRESENT; deactivating HA failover thread", daemon_gone=True,
                    reason=e.reason)
    except onhost.InvalidAnswer as e:
        raise _Stop("the liveset does not parse: %s" % e)
    except onhost.ScriptFailed as e:
        raise _Stop("caught %s querying the liveset; deactivating HA failover thread" % (e,), reason=e.reason)
    except XenAPIError as e:
        raise _Stop("caught %s querying the liveset; deactivating HA failover thread" % (e,))


def process_on_master(ctx, found: liveset_mod.Liveset, down: typing.AbstractSet[str] = frozenset()) -> None:
    """``process_liveset_on_master``: live, statefile access and network peers of every host.

    A host shutting down, or shut down, is never marked live (xapi's ``hosts_which_are_shutting_down``).
    """
    now = time.time()
    with ctx.store.write() as conn:
        statefiles = store_mod.loads(records.pool_row(conn)["ha_statefiles"]) or []
        for row in records.hosts(conn):
            seen = found.find(row["uuid"])
            live = bool(seen is not None and seen.liveness) and row["ref"] not in down
            records.set_live(conn, row["ref"], live, now)
            access = bool(seen is not None and seen.statefile_access)
            records.set_host_statefiles(conn, statefiles if access else [], row["ref"])
            peers = _peers(found, row["uuid"])
            if peers is not None:
                records.set_network_peers(conn, row["ref"], peers)


def _peers(found: liveset_mod.Liveset, host_uuid: str) -> typing.Optional[typing.List[str]]:
    """The host's network peers from the raw status: whichever view is more recent (None: no raw status)."""
    raw = None
    for key, value in found.host_raw_data.items():
        if key.lower() == host_uuid.lower():
            raw = value
    if not raw:
        return None
    if raw.get("time_since_last_update_on_statefile", 0) < raw.get("time_since_last_heartbeat", 0):
        return list(raw.get("heartbeat_active_list_on_statefile", []))
    return list(raw.get("heartbeat_active_list_on_heartbeat", []))


def _hosts(ctx) -> typing.List[str]:
    with ctx.store.read() as conn:
        return records.host_refs(conn)


def _uuid(ctx, host: str) -> str:
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "host", host)
    return row["uuid"] if row is not None else host


def _pool_uuid(ctx) -> str:
    with ctx.store.read() as conn:
        return records.pool_row(conn)["uuid"]


def ha_enabled(ctx) -> bool:
    with ctx.store.read() as conn:
        return bool(records.pool_row(conn)["ha_enabled"])


def host_uuid(ctx, host: str) -> str:
    """``host``'s uuid (its ref when it is gone), for the log."""
    return _uuid(ctx, host)
