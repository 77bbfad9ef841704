"""pool.disable_ha, as ``ocaml/xapi/xapi_ha.ml`` ``disable_internal``, and the stop both paths share.

disable_ha writes its journal (``pool.ha_disable_plan``) before its first
step, so a crash mid-disable is finished at restart.  It holds the HA lock
exclusive (``ha.jobs``): every background HA job (monitor, rejoin, boot,
reboot) is ended and waited for before its first step, and again before
it returns, so nothing of HA runs after it.  It goes through the
statefile when the master can reach it (``invalid``, then wait for every
daemon to leave), else disarms every host and stops every daemon.
Statefile and metadata VDIs are released (detached), never deleted: the
next enable reuses them, as xapi does.
"""

import logging
import time
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import client
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.ha import checks as ha_checks
from sm_clusterstack.xapi.ha import jobs
from sm_clusterstack.xapi.ha import steps as ha_steps
from sm_clusterstack.xapi.ha.operation import begin, end, in_parallel, report
from sm_clusterstack.xapi.hosts import onhost, sandboxes

LOG = logging.getLogger("sm_clusterstack.xapi")
JOIN_POLL = 1.0  # seconds between two looks for a daemon that should have left
DISABLE_RETRY = 5.0  # seconds between two attempts of a partly failed disable (xapi: 30)


def stop_without_statefile(ctx, stack: str, hosts) -> typing.List[typing.Tuple[typing.Any, BaseException]]:
    """Disarm every host, then stop every daemon, each step on all hosts in parallel; what failed."""
    failed = []
    for step in (onhost.HostStack.disarm_fencing, onhost.HostStack.stop_daemon):  # exit 14: nothing to do
        errors_now = in_parallel(lambda h: step(onhost.stack_on(ctx, h["ref"], stack)), hosts)
        for host, error in errors_now:
            LOG.error("%s on host %s failed: %s", step.__name__, host["uuid"], error)
        failed.extend(errors_now)
    return failed


def release(ctx, attached_on: typing.Mapping[str, typing.List[str]]) -> None:
    """Detach the statefile and metadata VDIs where ``attached_on`` (VDI -> hosts) says they are; keep them."""
    for vdi, hosts in sorted(attached_on.items()):
        for host in hosts:
            ha_steps.detach_on(ctx, host, vdi, best_effort=True)


def disable(ctx) -> None:
    """Disable HA as xapi does: through the statefile when the master can reach it, else disarm all, stop all."""
    with ctx.store.write() as conn:
        pool = begin(conn, "disable")
        if not pool["ha_enabled"]:
            raise XenAPIError(errors.HA_NOT_ENABLED)
        statefiles = store_mod.loads(pool["ha_statefiles"]) or []
        metadata = (store_mod.loads(pool["other_config"]) or {}).get("ha-metadata-vdi")
        hosts = [h["ref"] for h in records.hosts_master_first(conn)]
        vdis = [v for v in statefiles + [metadata] if v]
        journal = {"stack": pool["ha_cluster_stack"], "attached_on": {v: hosts for v in vdis},
                   "timeout": ha_checks.base_timeout(store_mod.loads(pool["ha_configuration"]) or {},
                                                     store_mod.loads(pool["other_config"]) or {})}
        records.set_disable_journal(conn, journal)
    try:
        with jobs.of(ctx).exclusive(end_after=True):  # every HA job ended before, and again after
            try:
                finish_disable(ctx)
            finally:
                end(ctx)
    finally:
        end(ctx)


def finish_disable(ctx, retry: float = DISABLE_RETRY) -> None:
    """Carry out the journal of a disable until it is done (also at restart after a crash)."""
    with ctx.store.read() as conn:
        journal = records.disable_journal(conn)
    if journal is None:
        return
    with ctx.store.read() as conn:
        hosts = records.hosts_master_first(conn)
    while not _one_attempt(ctx, journal["stack"], hosts, journal.get("timeout", 60)):
        LOG.error("suffered a partial failure during the HA disable procedure: trying again in %.0f s", retry)
        time.sleep(retry)
    release(ctx, journal.get("attached_on", {}))
    _end_leftovers(ctx, hosts)
    with ctx.store.write() as conn:
        records.set_disable_journal(conn, None, ha_enabled=False, ha_statefiles=[], ha_configuration={})
        records.set_host_statefiles(conn, [])
    report("HA disabled", 1.0)


def _end_leftovers(ctx, hosts) -> None:
    """Stop what the stack left running on a sandboxed host (a fenced host's guard or monitor), and say so."""
    for host in hosts:
        stopped = sandboxes.end_stack_processes(ctx, host["ref"])
        if stopped:
            LOG.warning("HA disabled: stopped %d process(es) the stack left on host %s: %s",
                        len(stopped), host["uuid"], ", ".join(stopped))


def _one_attempt(ctx, stack: str, hosts, timeout: int) -> bool:
    master = hosts[0]
    if _has_statefile_access(ctx, master, stack):
        try:
            _disable_through_statefile(ctx, stack, hosts, timeout)
            return True
        except XenAPIError as e:
            LOG.error("disabling HA through the statefile failed (%s): disarming and stopping every host", e)
    return not stop_without_statefile(ctx, stack, hosts)


def _has_statefile_access(ctx, master, stack: str) -> bool:
    try:
        seen = onhost.stack_on(ctx, master["ref"], stack).query_liveset().find(master["uuid"])
    except XenAPIError:
        return False
    return seen is not None and seen.statefile_access


def _disable_through_statefile(ctx, stack: str, hosts, timeout: int) -> None:
    """``invalid`` on the master, stop the master's daemon, wait for every host to see it (else stop it)."""
    master = hosts[0]
    on_master = onhost.stack_on(ctx, master["ref"], stack)
    on_master.set_pool_state(client.POOL_STATE_INVALID)
    on_master.stop_daemon()
    with ctx.store.write() as conn:
        records.set_pool(conn, ha_enabled=False)
    gone = {}
    in_parallel(lambda h: gone.__setitem__(h["ref"], _daemon_gone_within(ctx, h, stack, timeout)), hosts[1:])
    late = [h for h in hosts[1:] if not gone.get(h["ref"])]
    for host in late:
        LOG.warning("host %s did not see the invalid pool state within %d s: disarming and stopping it",
                    host["uuid"], timeout)
    if stop_without_statefile(ctx, stack, late):
        raise XenAPIError(errors.INTERNAL_ERROR, "some hosts could not be stopped")


def _daemon_gone_within(ctx, host, stack: str, timeout: int) -> bool:
    """``ha_wait_for_shutdown_via_statefile``: poll the host's liveset until its daemon has gone (14)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            onhost.stack_on(ctx, host["ref"], stack).liveset_text()
        except onhost.DaemonAbsent:
            return True
        except onhost.ScriptFailed:
            pass
        time.sleep(JOIN_POLL)
    return False
