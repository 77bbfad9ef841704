"""pool.enable_ha and pool.disable_ha, with a journal so that a crash can be undone.

enable_ha records its plan in ``pool.ha_plan`` (stack, statefile VDIs,
hosts where the statefile is attached, hosts whose daemon was started)
before each step that a rollback would have to undo; ``rollback`` reads the
plan back and undoes what it lists, so it serves both a failed call and the
recovery after a crash.  ``ha_enabled`` and ``ha_cluster_stack`` change only
in the final transaction.
"""

import logging
import typing

from sm_clusterstack import constraints, errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi import context, ha_steps, model, plug
from sm_clusterstack.xapi import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")


def enable(ctx, heartbeat_srs: typing.List[str], configuration: typing.Dict[str, str],
           cluster_stack: str = "") -> None:
    """Choose the stack, check the heartbeat SRs, start HA on every host; roll back on failure."""
    prepare(ctx, heartbeat_srs, configuration, cluster_stack)
    try:
        ha_steps.statefile(ctx)
        ha_steps.start_hosts(ctx)
        commit(ctx)
    except BaseException:
        rollback(ctx)
        raise


def prepare(ctx, heartbeat_srs, configuration, cluster_stack) -> str:
    """Check everything the rules say and record the plan; the chosen stack."""
    with ctx.store.write() as conn:
        pool = context.pool_row(conn)
        if pool["ha_enabled"]:
            raise XenAPIError(errors.HA_IS_ENABLED)
        if store_mod.loads(pool["ha_plan"]):
            raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "HA is being enabled")
        srs = [_sr(conn, ref) for ref in heartbeat_srs]
        stack = constraints.choose_stack(plug.active_constrained(conn), stacks.installed_stacks(ctx.stack_root),
                                         cluster_stack, default=ctx.default_stack)
        constraints.check_statefile_srs(srs, _supported(ctx, stack))
        hosts = [r[0] for r in conn.execute("SELECT ref FROM host ORDER BY ref")]
        plugged = [(r[0], r[1]) for r in conn.execute("SELECT host, SR FROM PBD WHERE state = 'attached'")]
        constraints.check_heartbeat_srs_plugged(srs, hosts, plugged)
        _check_safe(ctx, stack)
        store_mod.update(conn, "pool", pool["ref"], ha_plan=_plan(stack, srs[0].ref, configuration))
    return stack


def _sr(conn, ref: str) -> constraints.SR:
    sr_type = model.check_ref(conn, "SR", ref)["type"]
    return constraints.SR(ref, sr_type, plug.required_of(conn, sr_type))


def _plan(stack: str, heartbeat_sr: str, configuration: typing.Dict[str, str]) -> dict:
    """A new enable_ha journal: what is chosen, and (empty) lists of what to undo."""
    return {"stack": stack, "heartbeat_sr": heartbeat_sr, "configuration": dict(configuration),
            "generation": store_mod.new_uuid(), "statefiles": [], "attached_on": {}, "hosts_started": []}


def _supported(ctx, stack: str) -> typing.Optional[typing.List[str]]:
    try:
        return stacks.supported_srs(ctx.stack_root, stack)
    except stacks.StackError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))


def _check_safe(ctx, stack: str) -> None:
    try:
        stacks.check_safe(stacks.stack_dir(ctx.stack_root, stack))
    except stacks.StackError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))


def commit(ctx) -> None:
    """Mark HA enabled on the plan's stack and drop the plan."""
    with ctx.store.write() as conn:
        pool = context.pool_row(conn)
        plan = store_mod.loads(pool["ha_plan"])
        store_mod.update(conn, "pool", pool["ref"], ha_enabled=True, ha_cluster_stack=plan["stack"],
                         ha_statefiles=plan["statefiles"], ha_configuration=plan["configuration"],
                         ha_plan="")


def rollback(ctx) -> None:
    """Undo what the recorded plan lists (daemons, statefile), then drop it."""
    plan = ha_steps.read_plan(ctx)
    if not plan:
        return
    if plan["hosts_started"]:
        stop_hosts(ctx, plan["stack"], list(reversed(plan["hosts_started"])), run=_quietly)
    _quietly(ha_steps.release_statefiles, ctx, plan["statefiles"], plan["attached_on"], True)
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_plan="")


def _strictly(fn, *args) -> None:
    fn(*args)


def stop_hosts(ctx, stack: str, hosts: typing.List[str], run: typing.Callable[..., None] = _strictly) -> None:
    """Stop HA on ``hosts`` in the order that never fences a host.

    The pool state becomes invalid first (a stack does not fence once it
    is), then every host is disarmed, and only then is any daemon stopped:
    stopping one host must not leave another, still armed, out of quorum.
    ``run`` is _strictly (errors raise) or _quietly (a rollback carries on).
    """
    _quietly(ha_steps.run_on_host, ctx, hosts[0], stack, "ha_set_pool_state", ["invalid"])
    for host in hosts:
        run(ha_steps.run_on_host, ctx, host, stack, "ha_disarm_fencing", [])
    for host in hosts:
        run(ha_steps.run_on_host, ctx, host, stack, "ha_stop_daemon", [])


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception as e:  # rollback is best effort: log and carry on
        LOG.warning("HA rollback: %s failed: %s", getattr(fn, "__name__", fn), e)


def disable(ctx) -> None:
    """Invalidate the pool state, disarm fencing and stop the daemon on every host, drop the statefile."""
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        if store_mod.loads(pool["ha_plan"]):
            raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "HA is being enabled")
        if not pool["ha_enabled"]:
            raise XenAPIError(errors.HA_NOT_ENABLED)
        stack, statefiles = pool["ha_cluster_stack"], store_mod.loads(pool["ha_statefiles"])
        hosts = [r[0] for r in conn.execute("SELECT ref FROM host ORDER BY host.ref = ? DESC, ref",
                                            (pool["master"],))]
    stop_hosts(ctx, stack, hosts)
    ha_steps.release_statefiles(ctx, statefiles, {vdi: hosts for vdi in statefiles})
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_enabled=False,
                         ha_statefiles=[], ha_configuration={})
