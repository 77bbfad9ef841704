"""pool.enable_ha and pool.disable_ha, step for step as ``ocaml/xapi/xapi_ha.ml`` ``enable``/``disable_internal``.

One HA operation at a time: ``pool.ha_operation`` names the one running
(HA_ENABLE_IN_PROGRESS / HA_DISABLE_IN_PROGRESS to anyone else, as xapi's
pool current_operations).  enable_ha records its plan in ``pool.ha_plan``
(stack, VDIs, where they are attached, which daemons were started) before
each step; a failure, or recovery after a crash, runs the disable path on
what the plan lists.  disable_ha writes its journal (``pool.ha_disable_plan``)
before its first step, so a crash mid-disable is finished at restart.
Statefile and metadata VDIs are released (detached), never deleted: the
next enable reuses them, as xapi does.  ``ha_enabled`` and
``ha_cluster_stack`` change only in enable's final transaction (xapi sets
the stack first; ours stays unchanged when enable fails).
"""

import concurrent.futures
import logging
import time
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import liveset as liveset_mod
from sm_clusterstack.stacks import mtc
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.ha import checks as ha_checks
from sm_clusterstack.xapi.ha import progress
from sm_clusterstack.xapi.ha import steps as ha_steps
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xmlsafe import XMLFormatError

LOG = logging.getLogger("sm_clusterstack.xapi")
JOIN_POLL = 1.0  # seconds between a slave's looks for the master (xapi: 5)
DISABLE_RETRY = 5.0  # seconds between two attempts of a partly failed disable (xapi: 30)
IN_PROGRESS = {"enable": errors.HA_ENABLE_IN_PROGRESS, "disable": errors.HA_DISABLE_IN_PROGRESS}


def _progress(step: str, fraction: float) -> None:
    LOG.info("HA: %s", step)
    progress.report(step, fraction)


def _begin(conn, operation: str) -> typing.Any:
    pool = context.pool_row(conn)
    if pool["ha_operation"] or store_mod.loads(pool["ha_plan"]) or store_mod.loads(pool["ha_disable_plan"]):
        running = pool["ha_operation"] or ("enable" if store_mod.loads(pool["ha_plan"]) else "disable")
        raise XenAPIError(IN_PROGRESS[running])
    return pool


def _end(ctx) -> None:
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_operation="")


def enable(ctx, heartbeat_srs: typing.List[str], configuration: typing.Dict[str, str],
           cluster_stack: str = "") -> None:
    """Enable HA as xapi does; on any failure run the disable path and re-raise."""
    plan = _prepare(ctx, heartbeat_srs, configuration, cluster_stack)
    try:
        _progress("statefile and metadata VDIs on %s" % plan["heartbeat_sr"], 0.1)
        ha_steps.find_or_create_vdis(ctx, plan)
        _preconfigure(ctx)
        _join_all(ctx)
        _commit(ctx)
    except BaseException as e:
        LOG.error("enable_ha failed (%s): running the disable path", e)
        rollback(ctx)
        raise
    finally:
        _end(ctx)


def _prepare(ctx, heartbeat_srs, configuration, cluster_stack) -> dict:
    with ctx.store.write() as conn:
        pool = _begin(conn, "enable")
        choice = ha_checks.check(conn, ctx, heartbeat_srs, configuration, cluster_stack)
        plan = {"stack": choice.stack, "heartbeat_sr": choice.sr, "configuration": dict(configuration),
                "timeout": choice.timeout, "generation": store_mod.new_uuid(), "statefile": choice.statefile,
                "metadata": choice.metadata, "attached_on": {}, "paths": {}, "hosts_started": []}
        store_mod.update(conn, "pool", pool["ref"], ha_plan=plan, ha_operation="enable")
    LOG.info("enable_ha: stack %s, heartbeat SR %s, timeout %d", choice.stack, choice.sr, choice.timeout)
    return plan


def _preconfigure(ctx) -> None:
    """``Host.preconfigure_ha``: attach both VDIs and write xhad.conf on each host; ``init`` on the master only.

    The master first (it inits the pool state), then the slaves at once
    (xapi calls them one after the other; nothing orders them).
    """
    with ctx.store.read() as conn:
        hosts = ha_steps.hosts_master_first(conn)
    plan = ha_steps.read_plan(ctx)

    def preconfigure(host):
        path = ha_steps.attach_on(ctx, host["ref"], plan["statefile"])
        ha_steps.record(ctx, lambda p: p["paths"].__setitem__(host["ref"], path))
        ha_steps.write_conf(ctx, plan, host, path)
        if host["ref"] == hosts[0]["ref"]:
            onhost.run_script(ctx, host["ref"], plan["stack"], "ha_set_pool_state", ["init"])
        ha_steps.attach_on(ctx, host["ref"], plan["metadata"])
    preconfigure(hosts[0])
    _progress("master %s preconfigured" % hosts[0]["uuid"], 0.3)
    failed = in_parallel(preconfigure, hosts[1:])
    if failed:
        raise failed[0][1]
    _progress("every host preconfigured", 0.5)


def in_parallel(fn: typing.Callable[[typing.Any], None], hosts: typing.List[typing.Any]
                ) -> typing.List[typing.Tuple[typing.Any, BaseException]]:
    """Run ``fn(host)`` for every host at once (``thread_iter_all_exns``); the (host, error) pairs."""
    if not hosts:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        futures = [(host, pool.submit(fn, host)) for host in hosts]
        failed = []
        for host, future in futures:
            error = future.exception()
            if error is not None:
                failed.append((host, error))
    return failed


def _join_all(ctx) -> None:
    """``Host.ha_join_liveset`` on every host in parallel: start; the master proposes, slaves wait."""
    plan = ha_steps.read_plan(ctx)
    with ctx.store.read() as conn:
        hosts = ha_steps.hosts_master_first(conn)
    master = hosts[0]
    ha_steps.record(ctx, lambda p: p.update(hosts_started=[h["ref"] for h in hosts]))
    _progress("starting the %s daemon on %d host(s)" % (plan["stack"], len(hosts)), 0.5)

    def join(host):
        onhost.run_script(ctx, host["ref"], plan["stack"], "ha_start_daemon")
        if host["ref"] == master["ref"]:
            propose_master(ctx, host["ref"], plan["stack"], required=True)
        else:
            _wait_for_master(ctx, host, master, plan)
    failed = in_parallel(join, hosts)
    for host, error in failed:
        LOG.error("host %s failed to join the liveset: %s", host["uuid"], error)
    if failed:
        raise failed[0][1]
    _progress("every host joined the liveset", 0.9)


def propose_master(ctx, host: str, stack: str, required: bool = False) -> bool:
    """``ha_propose_master`` on ``host``: True when it printed TRUE (INTERNAL_ERROR if ``required`` and not)."""
    answer = onhost.run_script(ctx, host, stack, "ha_propose_master").stdout.strip()
    if answer not in ("TRUE", "FALSE"):
        raise XenAPIError(errors.INTERNAL_ERROR, "ha_propose_master printed %r, not TRUE or FALSE" % answer[:64])
    if required and answer != "TRUE":
        raise XenAPIError(errors.INTERNAL_ERROR, "failed to propose the current master as master")
    return answer == "TRUE"


def query_liveset(ctx, host: str, stack: str) -> liveset_mod.Liveset:
    """``ha_query_liveset`` on ``host``, parsed with xapi's rules (INTERNAL_ERROR if it does not parse)."""
    text = onhost.run_script(ctx, host, stack, "ha_query_liveset").stdout
    try:
        return liveset_mod.parse(text)
    except XMLFormatError as e:
        raise XenAPIError(errors.INTERNAL_ERROR, "ha_query_liveset: %s" % e)


def _wait_for_master(ctx, host, master, plan) -> None:
    """A slave polls its liveset until Online with the master flagged (``join_liveset``)."""
    deadline = time.monotonic() + plan["timeout"] + 60  # EnableJoinTimeout; xapi waits forever
    while True:
        found = query_liveset(ctx, host["ref"], plan["stack"])
        if found.status.lower() == "online":
            seen = _find(found, master["uuid"])
            if seen is None:
                raise XenAPIError(errors.INTERNAL_ERROR, "unable to gather the coordinator's info")
            if seen.master:
                return
            if not seen.liveness or seen.statefile_corrupted or not seen.statefile_access or seen.excluded:
                raise XenAPIError(errors.INTERNAL_ERROR, "Existing master failed during HA enable process")
        if time.monotonic() > deadline:
            raise XenAPIError(errors.HA_FAILED_TO_FORM_LIVESET)
        time.sleep(JOIN_POLL)


def _find(found: liveset_mod.Liveset, host_uuid: str) -> typing.Optional[liveset_mod.LivesetHost]:
    try:
        return found.host(host_uuid)
    except KeyError:
        return None


def _commit(ctx) -> None:
    with ctx.store.write() as conn:
        pool = context.pool_row(conn)
        plan = store_mod.loads(pool["ha_plan"])
        store_mod.update(conn, "pool", pool["ref"], ha_enabled=True, ha_cluster_stack=plan["stack"],
                         ha_statefiles=[plan["statefile"]], ha_configuration=plan["configuration"], ha_plan="",
                         other_config=dict(store_mod.loads(pool["other_config"]) or {},
                                           **{"ha-metadata-vdi": plan["metadata"]}))
        conn.execute("UPDATE host SET ha_statefiles = ?", (store_mod.dumps([plan["statefile"]]),))
    if ctx.ha_runtime is not None:
        ctx.ha_runtime.start_all()  # join_liveset: Monitor.start
    _progress("HA enabled on %s" % plan["stack"], 1.0)


def rollback(ctx) -> None:
    """The disable path for an enable that failed or was cut by a crash: stop what started, release the VDIs."""
    plan = ha_steps.read_plan(ctx)
    if not plan:
        return
    with ctx.store.read() as conn:
        started = [h for h in ha_steps.hosts_master_first(conn) if h["ref"] in plan["hosts_started"]]
    _stop_without_statefile(ctx, plan["stack"], started)
    _release(ctx, plan)
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_plan="")


def _tolerate_absent(fn: typing.Callable[[], typing.Any]) -> None:
    """Run a script call; exit 14 (no daemon) counts as done, as xapi treats it."""
    try:
        fn()
    except onhost.ScriptFailed as e:
        if e.returncode != mtc.DAEMON_IS_NOT_PRESENT:
            raise


def _stop_without_statefile(ctx, stack: str, hosts) -> typing.List[typing.Tuple[typing.Any, BaseException]]:
    """Disarm every host, then stop every daemon, each step on all hosts in parallel; what failed."""
    failed = []
    for script in ("ha_disarm_fencing", "ha_stop_daemon"):
        errors_now = in_parallel(lambda h: _tolerate_absent(
            lambda: onhost.run_script(ctx, h["ref"], stack, script)), hosts)
        for host, error in errors_now:
            LOG.error("%s on host %s failed: %s", script, host["uuid"], error)
        failed.extend(errors_now)
    return failed


def _release(ctx, plan: dict) -> None:
    """Detach the statefile and metadata VDIs wherever the plan says they are attached; keep them."""
    for vdi, hosts in sorted(plan.get("attached_on", {}).items()):
        for host in hosts:
            ha_steps.detach_on(ctx, host, vdi, best_effort=True)


def disable(ctx) -> None:
    """Disable HA as xapi does: through the statefile when the master can reach it, else disarm all, stop all."""
    with ctx.store.write() as conn:
        pool = _begin(conn, "disable")
        if not pool["ha_enabled"]:
            raise XenAPIError(errors.HA_NOT_ENABLED)
        statefiles = store_mod.loads(pool["ha_statefiles"]) or []
        metadata = (store_mod.loads(pool["other_config"]) or {}).get("ha-metadata-vdi")
        hosts = [h["ref"] for h in ha_steps.hosts_master_first(conn)]
        vdis = [v for v in statefiles + [metadata] if v]
        journal = {"stack": pool["ha_cluster_stack"], "attached_on": {v: hosts for v in vdis},
                   "timeout": ha_checks.base_timeout(store_mod.loads(pool["ha_configuration"]) or {},
                                                     store_mod.loads(pool["other_config"]) or {})}
        store_mod.update(conn, "pool", pool["ref"], ha_disable_plan=journal, ha_operation="disable")
    try:
        if ctx.ha_runtime is not None:
            ctx.ha_runtime.stop_all()
        finish_disable(ctx)
    finally:
        _end(ctx)


def finish_disable(ctx, retry: float = DISABLE_RETRY) -> None:
    """Carry out the journal of a disable until it is done (also at restart after a crash)."""
    journal = ha_steps.read_plan(ctx, "ha_disable_plan")
    if not journal:
        return
    with ctx.store.read() as conn:
        hosts = ha_steps.hosts_master_first(conn)
    while not _one_attempt(ctx, journal["stack"], hosts, journal.get("timeout", 60)):
        LOG.error("suffered a partial failure during the HA disable procedure: trying again in %.0f s", retry)
        time.sleep(retry)
    _release(ctx, journal)
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_enabled=False, ha_statefiles=[],
                         ha_configuration={}, ha_disable_plan="")
        conn.execute("UPDATE host SET ha_statefiles = '[]'")
    _progress("HA disabled", 1.0)


def _one_attempt(ctx, stack: str, hosts, timeout: int) -> bool:
    master = hosts[0]
    if _has_statefile_access(ctx, master, stack):
        try:
            _disable_through_statefile(ctx, stack, hosts, timeout)
            return True
        except XenAPIError as e:
            LOG.error("disabling HA through the statefile failed (%s): disarming and stopping every host", e)
    return not _stop_without_statefile(ctx, stack, hosts)


def _has_statefile_access(ctx, master, stack: str) -> bool:
    try:
        seen = _find(query_liveset(ctx, master["ref"], stack), master["uuid"])
    except XenAPIError:
        return False
    return seen is not None and seen.statefile_access


def _disable_through_statefile(ctx, stack: str, hosts, timeout: int) -> None:
    """``invalid`` on the master, stop the master's daemon, wait for every host to see it (else stop it)."""
    master = hosts[0]
    onhost.run_script(ctx, master["ref"], stack, "ha_set_pool_state", ["invalid"])
    _tolerate_absent(lambda: onhost.run_script(ctx, master["ref"], stack, "ha_stop_daemon"))
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_enabled=False)
    gone = {}
    in_parallel(lambda h: gone.__setitem__(h["ref"], _daemon_gone_within(ctx, h, stack, timeout)), hosts[1:])
    late = [h for h in hosts[1:] if not gone.get(h["ref"])]
    for host in late:
        LOG.warning("host %s did not see the invalid pool state within %d s: disarming and stopping it",
                    host["uuid"], timeout)
    if _stop_without_statefile(ctx, stack, late):
        raise XenAPIError(errors.INTERNAL_ERROR, "some hosts could not be stopped")


def _daemon_gone_within(ctx, host, stack: str, timeout: int) -> bool:
    """``ha_wait_for_shutdown_via_statefile``: poll the host's liveset until its daemon has gone (14)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            onhost.run_script(ctx, host["ref"], stack, "ha_query_liveset")
        except onhost.ScriptFailed as e:
            if e.returncode == mtc.DAEMON_IS_NOT_PRESENT:
                return True
        time.sleep(JOIN_POLL)
    return False
