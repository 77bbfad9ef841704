"""xapi's HA runtime: the shim takes membership from the cluster stack (``ocaml/xapi/xapi_ha.ml``).

``Runtime`` runs one monitor thread per host (``Monitor``): every
interval it runs ``ha_query_liveset`` on that host (in its sandbox) and
parses it with the one liveset model.  On the master's thread the liveset
sets ``host_metrics.live``/``last_updated``, ``host.ha_statefiles`` and
``host.ha_network_peers`` of every host (``process_liveset_on_master``); on
a slave's, a master that is not live and flagged makes that slave run
``ha_propose_master`` (``on_master_failure``); the one answered TRUE becomes
``pool.master``.  Each host's warnings that turn on become pool messages.
Exit 14 or a liveset that does not parse stops that host's monitor, logged,
as xapi's monitor thread stops.  ``restart`` is ``on_server_restart``: with
HA armed, every host's ``ha_start_daemon`` is retried until it joins, the
master proposes, then the monitors start.
"""

import logging
import threading
import time
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import liveset as liveset_mod
from sm_clusterstack.stacks import mtc
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")
DEFAULT_INTERVAL = 20.0  # Xapi_globs.ha_monitor_interval
RESTART_RETRY = 10.0  # on_server_restart: "will retry in 10s"
REBOOT_WAIT = 120  # monitor rounds a fenced sandboxed host waits for the master to see it dead
REBOOT_ROUNDS = 5  # monitor rounds a sandboxed host's reboot takes
# Api_messages names of the per-host warnings (name, priority)
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
    """The monitor threads of one shim, and the lock that makes master changes one at a time."""

    def __init__(self, ctx, interval: float = DEFAULT_INTERVAL) -> None:
        self.ctx = ctx
        self.interval = interval
        self.threads = {}  # type: typing.Dict[str, threading.Thread]
        self.stops = {}  # type: typing.Dict[str, threading.Event]
        self.warnings = {}  # type: typing.Dict[str, typing.Dict[str, bool]]
        self.lock = threading.Lock()
        self.master_lock = threading.Lock()
        self.down = set()  # type: typing.Set[str]  # hosts shut down cleanly: never marked live

    def start_host(self, host: str) -> None:
        """Start the monitor of ``host`` (no-op when it runs)."""
        with self.lock:
            if host in self.threads and self.threads[host].is_alive():
                return
            stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(host, stop), name="ha-monitor-" + host[-8:],
                                      daemon=True)
            self.threads[host], self.stops[host] = thread, stop
            thread.start()

    def start_all(self) -> None:
        """Start every host's monitor."""
        for host in _hosts(self.ctx):
            self.start_host(host)

    def stop_host(self, host: str, wait: bool = True) -> None:
        """Stop the monitor of ``host`` and wait for it (unless called from that thread)."""
        with self.lock:
            stop, thread = self.stops.pop(host, None), self.threads.pop(host, None)
        if stop is not None:
            stop.set()
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(self.ctx.script_timeout)

    def stop_all(self) -> None:
        """Stop every monitor."""
        for host in list(self.threads):
            self.stop_host(host)

    def running(self) -> typing.List[str]:
        """Hosts whose monitor runs."""
        with self.lock:
            return [h for h, t in self.threads.items() if t.is_alive()]

    def _run(self, host: str, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.once(host)
            except _Stop as e:
                LOG.error("HA monitor of host %s stops: %s", _uuid(self.ctx, host), e)
                self._after_stop(host, e, stop)
                return
            except Exception:  # a monitor never dies silently
                LOG.exception("HA monitor of host %s: unexpected error; it carries on", _uuid(self.ctx, host))

    def _after_stop(self, host: str, why: "_Stop", stop: threading.Event) -> None:
        """A host whose daemon is gone while HA is on has fenced (or crashed): it reboots and rejoins.

        On a real host the fence is a reboot, after which xapi starts and
        retries ``ha_start_daemon`` (``on_server_restart``).  A sandboxed
        host does not reboot by itself, so the shim plays that reboot: once
        the master has seen the host dead (or after ``REBOOT_WAIT`` rounds),
        and a reboot's time later, the host boots.
        """
        if not why.daemon_gone or stop.is_set() or host in self.down or not self.ctx.sandboxes:
            return
        if not _ha_enabled(self.ctx):
            return
        LOG.warning("host %s: its HA daemon is gone with HA on (fenced): it will boot again", _uuid(self.ctx, host))
        with self.lock:
            self.threads.pop(host, None)
            self.stops.pop(host, None)
        threading.Thread(target=self._reboot, args=(host,), name="ha-reboot-" + host[-8:], daemon=True).start()

    def _reboot(self, host: str) -> None:
        for _ in range(REBOOT_WAIT):
            if not _is_live(self.ctx, host):
                break
            time.sleep(self.interval)
        time.sleep(self.interval * REBOOT_ROUNDS)  # the reboot itself
        if _ha_enabled(self.ctx) and host not in self.down:
            boot(self.ctx, self, host)

    def once(self, host: str) -> None:
        """One round of ``host``'s monitor: query, warnings, then the master's or a slave's part."""
        with self.ctx.store.read() as conn:
            pool = context.pool_row(conn)
            if not pool["ha_enabled"]:
                raise _Stop("HA is not enabled")
            stack, master = pool["ha_cluster_stack"], pool["master"]
        found = query(self.ctx, host, stack)
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
        seen = _entry(found, _uuid(self.ctx, master))
        if seen is not None and seen.liveness and seen.master:
            return
        LOG.warning("host %s: the liveset says master %s is gone", _uuid(self.ctx, host), _uuid(self.ctx, master))
        self.on_master_failure(host, stack, master)

    def on_master_failure(self, host: str, stack: str, old_master: str) -> None:
        """Propose ``host`` as master; on TRUE it becomes ``pool.master`` (one change at a time)."""
        with self.master_lock:
            with self.ctx.store.read() as conn:
                if context.master(conn) != old_master:
                    return  # another survivor took over meanwhile
            answer = onhost.run_script(self.ctx, host, stack, "ha_propose_master").stdout.strip()
            if answer != "TRUE":
                LOG.info("host %s: ha_propose_master answered %r", _uuid(self.ctx, host), answer[:32])
                return
            with self.ctx.store.write() as conn:
                store_mod.update(conn, "pool", context.pool_row(conn)["ref"], master=host)
        add_message(self.ctx, "HA_POOL_MASTER_CHANGED", 4, "Pool", _pool_uuid(self.ctx),
                    "host %s took over as master from %s" % (_uuid(self.ctx, host), _uuid(self.ctx, old_master)))


class _Stop(Exception):
    """The monitor of a host must stop (as xapi's ``request_shutdown``); ``daemon_gone``: exit 14."""

    def __init__(self, message: str, daemon_gone: bool = False) -> None:
        super(_Stop, self).__init__(message)
        self.daemon_gone = daemon_gone


def query(ctx, host: str, stack: str) -> liveset_mod.Liveset:
    """The host's liveset; _Stop on exit 14 or one that does not parse."""
    try:
        text = onhost.run_script(ctx, host, stack, "ha_query_liveset").stdout
    except onhost.ScriptFailed as e:
        if e.returncode == mtc.DAEMON_IS_NOT_PRESENT:
            raise _Stop("MTC_EXIT_DAEMON_IS_NOT_PRESENT; deactivating HA failover thread", daemon_gone=True)
        raise _Stop("caught %s querying the liveset; deactivating HA failover thread" % (e,))
    try:
        return liveset_mod.parse(text)
    except Exception as e:  # xmlsafe.XMLFormatError, and anything else the model refuses
        raise _Stop("the liveset does not parse: %s" % e)


def process_on_master(ctx, found: liveset_mod.Liveset, down: typing.AbstractSet[str] = frozenset()) -> None:
    """``process_liveset_on_master``: live, statefile access and network peers of every host.

    A host shutting down, or shut down, is never marked live (xapi's ``hosts_which_are_shutting_down``).
    """
    now = time.time()
    with ctx.store.write() as conn:
        statefiles = store_mod.loads(context.pool_row(conn)["ha_statefiles"]) or []
        for row in conn.execute("SELECT ref, uuid FROM host").fetchall():
            seen = _entry(found, row["uuid"])
            live = bool(seen is not None and seen.liveness) and row["ref"] not in down
            conn.execute("UPDATE host_metrics SET live = ?, last_updated = ? WHERE host = ?",
                         (live, now, row["ref"]))
            access = bool(seen is not None and seen.statefile_access)
            conn.execute("UPDATE host SET ha_statefiles = ? WHERE ref = ?",
                         (store_mod.dumps(statefiles if access else []), row["ref"]))
            peers = _peers(found, row["uuid"])
            if peers is not None:
                conn.execute("UPDATE host SET ha_network_peers = ? WHERE ref = ?",
                             (store_mod.dumps(peers), row["ref"]))


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


def _entry(found: liveset_mod.Liveset, host_uuid: str) -> typing.Optional[liveset_mod.LivesetHost]:
    try:
        return found.host(host_uuid)
    except KeyError:
        return None


def _hosts(ctx) -> typing.List[str]:
    with ctx.store.read() as conn:
        return [r[0] for r in conn.execute("SELECT ref FROM host ORDER BY ref")]


def _uuid(ctx, host: str) -> str:
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "host", host)
    return row["uuid"] if row is not None else host


def _pool_uuid(ctx) -> str:
    with ctx.store.read() as conn:
        return context.pool_row(conn)["uuid"]


def set_live(ctx, host: str, live: bool) -> None:
    """Record ``host``'s liveness (a host not rejoined, a host shut down cleanly)."""
    with ctx.store.write() as conn:
        conn.execute("UPDATE host_metrics SET live = ?, last_updated = ? WHERE host = ?", (live, time.time(), host))


def restart(ctx, runtime: Runtime, retry: float = RESTART_RETRY) -> None:
    """``on_server_restart`` with HA armed: join every host (retried), the master proposes, monitors start."""
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        stack, master = pool["ha_cluster_stack"], pool["master"]
        hosts = [r[0] for r in conn.execute("SELECT ref FROM host ORDER BY ref")]
    if not pool["ha_enabled"]:
        for host in hosts:  # issue 14: a restart that killed a rejoin, then finished a disable, left them offline
            set_live(ctx, host, True)  # with HA off, a host is live while it runs (xapi: its heartbeat)
        return
    for host in hosts:
        set_live(ctx, host, False)  # not live until its liveset says so
    threads = [threading.Thread(target=_rejoin, args=(ctx, runtime, host, stack, host == master, retry),
                                name="ha-rejoin-" + host[-8:], daemon=True) for host in hosts]
    for thread in threads:
        thread.start()


def _reattach(ctx, host: str) -> None:
    """Attach the statefile and metadata VDIs again, as static-vdis does at boot (drivers make it idempotent)."""
    from sm_clusterstack.xapi.ha import steps as ha_steps
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        vdis = (store_mod.loads(pool["ha_statefiles"]) or []) + [
            v for v in [(store_mod.loads(pool["other_config"]) or {}).get("ha-metadata-vdi")] if v]
    for vdi in vdis:
        try:
            ha_steps.attach_on(ctx, host, vdi, in_plan=False)
        except XenAPIError as e:
            LOG.error("host %s: attaching HA VDI %s at boot failed: %s", _uuid(ctx, host), vdi, e)


def _rejoin(ctx, runtime: Runtime, host: str, stack: str, is_master: bool, retry: float) -> None:
    _reattach(ctx, host)
    while True:
        outcome = start_daemon_once(ctx, host, stack)
        if outcome == "joined":
            break
        if outcome == "disarmed":
            return
        LOG.error("host %s: ha_start_daemon failed (%s): will retry in %.0f s", _uuid(ctx, host), outcome, retry)
        time.sleep(retry)
    if is_master:
        try:
            onhost.run_script(ctx, host, stack, "ha_propose_master")
        except XenAPIError as e:
            LOG.error("master %s: ha_propose_master after restart failed: %s", _uuid(ctx, host), e)
    runtime.start_host(host)


def start_daemon_once(ctx, host: str, stack: str) -> str:
    """One ``ha_start_daemon`` of ``on_server_restart``: joined, disarmed (11, or 8 with HA off), or the error."""
    try:
        onhost.run_script(ctx, host, stack, "ha_start_daemon")
        return "joined"
    except onhost.ScriptFailed as e:
        if e.returncode == mtc.DAEMON_IS_PRESENT:
            return "joined"
        if e.returncode == mtc.INVALID_POOL_STATE:
            LOG.warning("host %s: the pool state is invalid: disarming HA locally", _uuid(ctx, host))
            return "disarmed"
        if e.returncode == mtc.CAN_NOT_ACCESS_STATEFILE and not _ha_enabled(ctx):
            return "disarmed"
        return str(e)
    except XenAPIError as e:
        return str(e)


def _is_live(ctx, host: str) -> bool:
    with ctx.store.read() as conn:
        found = conn.execute("SELECT live FROM host_metrics WHERE host = ?", (host,)).fetchone()
    return bool(found and found[0])


def _ha_enabled(ctx) -> bool:
    with ctx.store.read() as conn:
        return bool(context.pool_row(conn)["ha_enabled"])


class LostStatefile(XenAPIError):
    """HA_LOST_STATEFILE; ``daemon_gone``: because the host has no daemon at all (it fenced)."""

    def __init__(self, daemon_gone: bool) -> None:
        super(LostStatefile, self).__init__(errors.HA_LOST_STATEFILE)
        self.daemon_gone = daemon_gone


def check_statefile_access(ctx, host: str, stack: str) -> None:
    """``assert_have_statefile_access``: HA_LOST_STATEFILE unless ``host`` sees the statefile."""
    try:
        seen = _entry(query(ctx, host, stack), _uuid(ctx, host))
    except _Stop as e:
        raise LostStatefile(e.daemon_gone)
    if seen is None or not seen.statefile_access:
        raise LostStatefile(False)


def clean_shutdown(ctx, runtime: Runtime, host: str) -> None:
    """``before_clean_shutdown_or_reboot``: statefile access, disarm, stop, ``ha_set_excluded``; not live."""
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        enabled, stack = bool(pool["ha_enabled"]), pool["ha_cluster_stack"]
    if enabled:
        check_statefile_access(ctx, host, stack)
        runtime.stop_host(host)
        runtime.down.add(host)
        for script in ("ha_disarm_fencing", "ha_stop_daemon"):
            try:
                onhost.run_script(ctx, host, stack, script)
            except onhost.ScriptFailed as e:
                if e.returncode != mtc.DAEMON_IS_NOT_PRESENT:  # 14: nothing to disarm or stop
                    raise
        onhost.run_script(ctx, host, stack, "ha_set_excluded")
    runtime.down.add(host)
    set_live(ctx, host, False)
    LOG.info("host %s shut down cleanly", _uuid(ctx, host))


def boot(ctx, runtime: Runtime, host: str, retry: float = RESTART_RETRY) -> None:
    """A host's "boot": with HA armed its daemon starts again (retried) and rejoins; its monitor restarts."""
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        enabled, stack = bool(pool["ha_enabled"]), pool["ha_cluster_stack"]
    runtime.down.discard(host)
    if not enabled:
        set_live(ctx, host, True)
        return
    threading.Thread(target=_rejoin, args=(ctx, runtime, host, stack, False, retry), name="ha-boot-" + host[-8:],
                     daemon=True).start()
