"""pool.enable_ha, step for step as ``ocaml/xapi/xapi_ha.ml`` ``enable``.

enable_ha records its plan (``records.HAPlan`` in ``pool.ha_plan``: stack,
VDIs, where they are attached, which daemons were started) before each
step; a failure, or recovery after a crash, runs the disable path on what
the plan lists (``rollback``).  ``ha_enabled`` and ``ha_cluster_stack``
change only in enable's final transaction (xapi sets the stack first;
ours stays unchanged when enable fails).
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
from sm_clusterstack.xapi.ha import disable as ha_disable
from sm_clusterstack.xapi.ha import jobs
from sm_clusterstack.xapi.ha import steps as ha_steps
from sm_clusterstack.xapi.ha.operation import begin, end, in_parallel, propose_master_or_fail, report
from sm_clusterstack.xapi.hosts import onhost

LOG = logging.getLogger("sm_clusterstack.xapi")
JOIN_POLL = 1.0  # seconds between a slave's looks for the master (xapi: 5)


def enable(ctx, heartbeat_srs: typing.List[str], configuration: typing.Dict[str, str],
           cluster_stack: str = "") -> None:
    """Enable HA as xapi does; on any failure run the disable path and re-raise.

    Under the HA lock held exclusive (``ha.jobs``): no background HA step
    runs meanwhile; the monitors it starts take their first step after.
    """
    plan = _prepare(ctx, heartbeat_srs, configuration, cluster_stack)
    try:
        with jobs.of(ctx).exclusive():
            try:
                report("statefile and metadata VDIs on %s" % plan.heartbeat_sr, 0.1)
                ha_steps.find_or_create_vdis(ctx, plan)
                _preconfigure(ctx)
                _join_all(ctx)
                _commit(ctx)
            except BaseException as e:
                LOG.error("enable_ha failed (%s): running the disable path", e)
                rollback(ctx)
                raise
            finally:
                end(ctx)  # before the lock is released: the monitors' first step finds no operation running
    finally:
        end(ctx)


def _prepare(ctx, heartbeat_srs, configuration, cluster_stack) -> records.HAPlan:
    with ctx.store.write() as conn:
        begin(conn, "enable")
        choice = ha_checks.check(conn, ctx, heartbeat_srs, configuration, cluster_stack)
        plan = records.HAPlan(choice.stack, choice.sr, configuration, choice.timeout, store_mod.new_uuid(),
                              statefile=choice.statefile, metadata=choice.metadata)
        records.set_ha_plan(conn, plan)
    LOG.info("enable_ha: stack %s, heartbeat SR %s, timeout %d", choice.stack, choice.sr, choice.timeout)
    return plan


def _preconfigure(ctx) -> None:
    """``Host.preconfigure_ha``: attach both VDIs and write xhad.conf on each host; ``init`` on the master only.

    The master first (it inits the pool state), then the slaves at once
    (xapi calls them one after the other; nothing orders them).
    """
    with ctx.store.read() as conn:
        hosts = records.hosts_master_first(conn)
    plan = ha_steps.read_plan(ctx)

    def preconfigure(host):
        path = ha_steps.attach_on(ctx, host["ref"], plan.statefile)
        ha_steps.record(ctx, lambda p: p.paths.__setitem__(host["ref"], path))
        ha_steps.write_conf(ctx, plan, host, path)
        if host["ref"] == hosts[0]["ref"]:
            onhost.stack_on(ctx, host["ref"], plan.stack).set_pool_state(client.POOL_STATE_INIT)
        ha_steps.attach_on(ctx, host["ref"], plan.metadata)
    preconfigure(hosts[0])
    report("master %s preconfigured" % hosts[0]["uuid"], 0.3)
    failed = in_parallel(preconfigure, hosts[1:])
    if failed:
        raise failed[0][1]
    report("every host preconfigured", 0.5)


def _join_all(ctx) -> None:
    """``Host.ha_join_liveset`` on every host in parallel: start; the master proposes, slaves wait."""
    plan = ha_steps.read_plan(ctx)
    with ctx.store.read() as conn:
        hosts = records.hosts_master_first(conn)
    master = hosts[0]
    ha_steps.record(ctx, lambda p: setattr(p, "hosts_started", [h["ref"] for h in hosts]))
    report("starting the %s daemon on %d host(s)" % (plan.stack, len(hosts)), 0.5)

    def join(host):
        onhost.stack_on(ctx, host["ref"], plan.stack).start_daemon()
        if host["ref"] == master["ref"]:
            propose_master_or_fail(ctx, host["ref"], plan.stack)
        else:
            _wait_for_master(ctx, host, master, plan)
    failed = in_parallel(join, hosts)
    for host, error in failed:
        LOG.error("host %s failed to join the liveset: %s", host["uuid"], error)
    if failed:
        raise failed[0][1]
    report("every host joined the liveset", 0.9)


def _wait_for_master(ctx, host, master, plan) -> None:
    """A slave polls its liveset until Online with the master flagged (``join_liveset``)."""
    deadline = time.monotonic() + plan.timeout + 60  # EnableJoinTimeout; xapi waits forever
    while True:
        found = onhost.stack_on(ctx, host["ref"], plan.stack).query_liveset()
        if found.status.lower() == "online":
            seen = found.find(master["uuid"])
            if seen is None:
                raise XenAPIError(errors.INTERNAL_ERROR, "unable to gather the coordinator's info")
            if seen.master:
                return
            if not seen.liveness or seen.statefile_corrupted or not seen.statefile_access or seen.excluded:
                raise XenAPIError(errors.INTERNAL_ERROR, "Existing master failed during HA enable process")
        if time.monotonic() > deadline:
            raise XenAPIError(errors.HA_FAILED_TO_FORM_LIVESET)
        time.sleep(JOIN_POLL)


def _commit(ctx) -> None:
    with ctx.store.write() as conn:
        pool, plan = records.pool_row(conn), records.ha_plan(conn)
        records.set_ha_plan(conn, None, ha_enabled=True, ha_cluster_stack=plan.stack,
                            ha_statefiles=[plan.statefile], ha_configuration=plan.configuration,
                            other_config=dict(store_mod.loads(pool["other_config"]) or {},
                                              **{"ha-metadata-vdi": plan.metadata}))
        records.set_host_statefiles(conn, [plan.statefile])
    if ctx.ha_runtime is not None:
        ctx.ha_runtime.disarmed.clear()  # every host joined: armed again (an emergency_ha_disable is undone)
        ctx.ha_runtime.start_all()  # join_liveset: Monitor.start
    report("HA enabled on %s" % plan.stack, 1.0)


def rollback(ctx) -> None:
    """The disable path for an enable that failed or was cut by a crash: stop what started, release the VDIs."""
    plan = ha_steps.read_plan(ctx)
    if plan is None:
        return
    with ctx.store.read() as conn:
        started = [h for h in records.hosts_master_first(conn) if h["ref"] in plan.hosts_started]
    ha_disable.stop_without_statefile(ctx, plan.stack, started)
    ha_disable.release(ctx, plan.attached_on)
    ha_steps.forget_unfinished_vdis(ctx)  # a statefile or metadata VDI whose vdi_create failed: nothing left
    with ctx.store.write() as conn:
        records.set_ha_plan(conn, None)
