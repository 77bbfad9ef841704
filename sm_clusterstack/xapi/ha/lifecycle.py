"""A host's life under HA: the shim's restart and a host's rejoin, clean shutdown, boot and fenced reboot.

``restart`` is xapi's ``on_server_restart``: with HA armed, every host's
statefile and metadata VDIs are attached again, its ``ha_start_daemon``
retried until it joins, the master proposes, then its monitor starts.
``clean_shutdown`` is ``before_clean_shutdown_or_reboot`` (statefile
access, disarm, stop, ``ha_set_excluded``); ``boot`` starts a host again.
Each runs in the background as a job of ``runtime.jobs`` (``ha.jobs``):
every step under the HA lock and checked against the plan, so that none
outlives disable_ha.  ``reboot_fenced`` plays a sandboxed host's reboot after it fenced: once
the master has seen it dead (never before: a fence that failed is never
taken over), every process of its sandbox is stopped, and a reboot's time
later the host boots; ``reset`` is the same when a kernel fence (sysrq,
a watchdog) hit the host's stand-in.  ``declare_dead`` is the operator's
way out for a host whose fence failed.
"""

import logging
import typing

from sm_clusterstack import errors, hostsandbox, proctree
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import mtc
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.ha import jobs
from sm_clusterstack.xapi.ha import steps as ha_steps
from sm_clusterstack.xapi.ha.monitor import Runtime, _Stop, add_message, ha_enabled, host_uuid, query
from sm_clusterstack.xapi.hosts import onhost

LOG = logging.getLogger("sm_clusterstack.xapi")
RESTART_RETRY = 10.0  # on_server_restart: "will retry in 10s"
REBOOT_ROUNDS = 5  # monitor rounds a sandboxed host's reboot takes


def reboot_fenced(job: jobs.Job, ctx, runtime: Runtime, host: str) -> None:
    """Reboot a sandboxed host that fenced, once the survivors dropped it: a reset, a reboot's time, its boot.

    A job (``runtime.jobs``): each look and each step is checked against
    the plan, so it ends with HA.  While the master's liveset still counts
    the host live its fence is not confirmed (a fence that failed): it is
    never taken over, however long that lasts, until HA is disabled or the
    host is declared dead.  The reset stops every process left in its
    sandbox (a monitor or guard that lingers), as a reboot would.  One
    reboot of a host at a time.
    """
    with runtime.lock:
        if host in runtime.rebooting:
            return
        runtime.rebooting.add(host)
    try:
        while True:
            with runtime.jobs.step(job):
                if host in runtime.down:
                    return
                if not _is_live(ctx, host):
                    break
            job.sleep(runtime.interval)
        with runtime.jobs.step(job):
            _reset_processes(ctx, host)
        job.sleep(runtime.interval * REBOOT_ROUNDS)  # the reboot itself
        with runtime.jobs.step(job):
            if host not in runtime.down:
                boot(ctx, runtime, host, epoch=job.epoch)
    finally:
        with runtime.lock:
            runtime.rebooting.discard(host)


def _reset_processes(ctx, host: str) -> None:
    """Power-cycle a sandboxed host, as its reset does (every process of it gone), and say which were stopped."""
    box = onhost.sandbox_of(ctx, host)
    if box is not None:
        with box.power_lock():
            stopped = hostsandbox.stop_processes(box)
            box.power_cycle()
        LOG.warning("host %s reboots: %d process(es) stopped%s", host_uuid(ctx, host), len(stopped),
                    ": " + ", ".join("%s[%d]" % (c, p) for p, c in stopped) if stopped else "")


def reset(ctx, runtime: Runtime, host: str, fences: typing.List[str]) -> None:
    """The kernel rebooted sandboxed ``host`` (``fences`` says how) and its power switch reset it: said, then
    rebooted (``reboot_fenced``)."""
    add_message(ctx, "HA_HOST_WAS_FENCED", 1, "Host", host_uuid(ctx, host),
                "host %s was fenced by its kernel (%s): reset; it boots again once the survivors dropped it"
                % (host_uuid(ctx, host), ", ".join(fences)))
    runtime.stop_host(host, wait=False)
    if ha_enabled(ctx) and host not in runtime.down:
        runtime.jobs.start("ha-reset-" + host[-8:], reboot_fenced, ctx, runtime, host)


def set_live(ctx, host: str, live: bool) -> None:
    """Record ``host``'s liveness (a host not rejoined, a host shut down cleanly)."""
    with ctx.store.write() as conn:
        records.set_live(conn, host, live)


def restart(ctx, runtime: Runtime, retry: float = RESTART_RETRY) -> None:
    """``on_server_restart`` with HA armed: join every host (retried), the master proposes, monitors start."""
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        stack, master = pool["ha_cluster_stack"], pool["master"]
        hosts = records.host_refs(conn)
    if not pool["ha_enabled"]:
        for host in hosts:  # issue 14: a restart that killed a rejoin, then finished a disable, left them offline
            set_live(ctx, host, True)  # with HA off, a host is live while it runs (xapi: its heartbeat)
        return
    for host in hosts:
        set_live(ctx, host, False)  # not live until its liveset says so
    for host in hosts:
        runtime.jobs.start("ha-rejoin-" + host[-8:], _rejoin, ctx, runtime, host, stack, host == master, retry)


def _reattach(ctx, host: str) -> None:
    """Attach the statefile and metadata VDIs again, as static-vdis does at boot (drivers make it idempotent)."""
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        vdis = (store_mod.loads(pool["ha_statefiles"]) or []) + [
            v for v in [(store_mod.loads(pool["other_config"]) or {}).get("ha-metadata-vdi")] if v]
    for vdi in vdis:
        try:
            ha_steps.attach_on(ctx, host, vdi, in_plan=False)
        except XenAPIError as e:
            LOG.error("host %s: attaching HA VDI %s at boot failed: %s", host_uuid(ctx, host), vdi, e)


def _rejoin(job: jobs.Job, ctx, runtime: Runtime, host: str, stack: str, is_master: bool, retry: float) -> None:
    """A host's rejoin, a job: its HA VDIs, ``ha_start_daemon`` until it joins, the master's proposal, its monitor.

    Each step is checked against the plan first (``jobs.step``): once HA
    is disabled or enabled again, nothing more runs.
    """
    with runtime.jobs.step(job):
        _reattach(ctx, host)
    while True:
        with runtime.jobs.step(job):
            outcome = start_daemon_once(ctx, host, stack)
        if outcome == "joined":
            break
        if outcome == "disarmed":
            return
        LOG.error("host %s: ha_start_daemon failed (%s): will retry in %.0f s", host_uuid(ctx, host), outcome, retry)
        job.sleep(retry)
    if is_master:
        with runtime.jobs.step(job):
            try:
                onhost.stack_on(ctx, host, stack).propose_master()
            except XenAPIError as e:
                LOG.error("master %s: ha_propose_master after restart failed: %s", host_uuid(ctx, host), e)
    runtime.start_host(host, epoch=job.epoch)


def start_daemon_once(ctx, host: str, stack: str) -> str:
    """One ``ha_start_daemon`` of ``on_server_restart``: joined, disarmed (11, or 8 with HA off), or the error."""
    try:
        onhost.stack_on(ctx, host, stack).start_daemon()
        return "joined"
    except onhost.ScriptFailed as e:
        if e.returncode == mtc.DAEMON_IS_PRESENT:
            return "joined"
        if e.returncode == mtc.INVALID_POOL_STATE:
            LOG.warning("host %s: the pool state is invalid: disarming HA locally", host_uuid(ctx, host))
            return "disarmed"
        if e.returncode == mtc.CAN_NOT_ACCESS_STATEFILE and not ha_enabled(ctx):
            return "disarmed"
        return str(e)
    except XenAPIError as e:
        return str(e)


def _is_live(ctx, host: str) -> bool:
    with ctx.store.read() as conn:
        return records.is_live(conn, host)


class LostStatefile(XenAPIError):
    """HA_LOST_STATEFILE; ``daemon_gone``: because the host has no daemon at all (it fenced)."""

    def __init__(self, daemon_gone: bool) -> None:
        super(LostStatefile, self).__init__(errors.HA_LOST_STATEFILE)
        self.daemon_gone = daemon_gone


def check_statefile_access(ctx, host: str, stack: str) -> None:
    """``assert_have_statefile_access``: HA_LOST_STATEFILE unless ``host`` sees the statefile."""
    try:
        seen = query(ctx, host, stack).find(host_uuid(ctx, host))
    except _Stop as e:
        raise LostStatefile(e.daemon_gone)
    if seen is None or not seen.statefile_access:
        raise LostStatefile(False)


def clean_shutdown(ctx, runtime: Runtime, host: str) -> None:
    """``before_clean_shutdown_or_reboot``: statefile access, disarm, stop, ``ha_set_excluded``; not live.

    Under the HA lock (shared): never while enable_ha or disable_ha runs.
    """
    with runtime.jobs.shared():
        enabled, stack = _armed(ctx)
        if enabled:
            check_statefile_access(ctx, host, stack)
            runtime.stop_host(host)
            runtime.down.add(host)
            on_host = onhost.stack_on(ctx, host, stack)
            on_host.disarm_fencing()  # exit 14: nothing to disarm or stop
            on_host.stop_daemon()
            on_host.set_excluded()
        runtime.down.add(host)
        set_live(ctx, host, False)
    LOG.info("host %s shut down cleanly", host_uuid(ctx, host))


def _armed(ctx) -> typing.Tuple[bool, str]:
    """(HA enabled and no enable or disable running, the HA stack)."""
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        return bool(pool["ha_enabled"]) and not records.running_ha_operation(conn), pool["ha_cluster_stack"]


def boot(ctx, runtime: Runtime, host: str, retry: float = RESTART_RETRY, epoch: typing.Optional[int] = None
         ) -> None:
    """A host's "boot": with HA armed its daemon starts again (retried) and rejoins (a job); its monitor restarts.

    ``epoch``: the generation of the job that boots it (a fenced host's reboot).
    """
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        enabled, stack = bool(pool["ha_enabled"]), pool["ha_cluster_stack"]
    runtime.down.discard(host)
    if not enabled:
        set_live(ctx, host, True)
        return
    if host in runtime.disarmed:  # its local database says HA is not armed: it does not rejoin
        LOG.warning("host %s boots with HA disarmed (emergency_ha_disable): it does not rejoin", host_uuid(ctx, host))
        return
    runtime.jobs.start("ha-boot-" + host[-8:], _rejoin, ctx, runtime, host, stack, False, retry, epoch=epoch)


def declare_dead(ctx, runtime: Runtime, host: str) -> None:
    """``Host.declare_dead``: the operator says ``host`` is powered off; it is never counted live again.

    As xapi's ``precheck_destroy_declare_dead``: HOST_IS_LIVE for the master
    or for a host that still answers (a sandboxed host with any process
    left, a host whose HA daemon answers its liveset).  Then its monitor
    stops and, until it boots again, the master's liveset never marks it
    live: a host whose fence failed is taken over only after this.
    """
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        enabled, stack = bool(pool["ha_enabled"]), pool["ha_cluster_stack"]
        if pool["master"] == host:
            raise XenAPIError(errors.HOST_IS_LIVE, host)
    with runtime.jobs.shared():
        if _answers(ctx, host, stack if enabled else ""):
            raise XenAPIError(errors.HOST_IS_LIVE, host)
        runtime.stop_host(host, wait=False)
        runtime.down.add(host)
        set_live(ctx, host, False)
    LOG.warning("host %s was declared dead by the operator: it is not counted live until it boots again",
                host_uuid(ctx, host))


def emergency_ha_disable(ctx, runtime: Runtime, host: str, soft: bool) -> None:
    """``Host.emergency_ha_disable`` (``xapi_ha.ml``) on ``host`` alone: disarm, stop, exclude; failures passed over.

    HA_NOT_ENABLED when ``host`` is not armed, unless ``soft``.  Its monitor
    stops first.  Not ``soft``: the host is disarmed (``runtime.disarmed``,
    xapi's local ``ha_armed`` false): its boot does not rejoin.
    """
    with runtime.jobs.shared():
        armed, stack = _armed(ctx)
        if not armed or host in runtime.disarmed:
            if soft:
                return
            raise XenAPIError(errors.HA_NOT_ENABLED)
        LOG.warning("host %s: Host.emergency_ha_disable: disabling the HA subsystem on this host only",
                    host_uuid(ctx, host))
        runtime.stop_host(host)
        on_host = onhost.stack_on(ctx, host, stack)
        for step in (on_host.disarm_fencing, on_host.stop_daemon, on_host.set_excluded):
            try:
                step()
            except XenAPIError as e:  # as xapi: each failure logged, the next step still runs
                LOG.error("host %s: Host.emergency_ha_disable: %s failed (%s); continuing",
                          host_uuid(ctx, host), step.__name__, e)
        if not soft:
            runtime.disarmed.add(host)


def _answers(ctx, host: str, stack: str) -> bool:
    """Whether ``host`` still shows a sign of life: a process in its sandbox, or (HA on) its daemon's liveset.

    Not the shim's own runs in progress in it (its HA monitor's liveset
    query, entering the host every interval): they are the shim asking,
    not the host answering.
    """
    box = onhost.sandbox_of(ctx, host)
    if box is not None:
        return any(not proctree.in_a_run(pid) for pid in box.pids())
    if not stack:
        return False
    try:
        onhost.stack_on(ctx, host, stack).query_liveset()
        return True
    except XenAPIError:
        return False
