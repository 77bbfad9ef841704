"""pool.*: enable_ha, disable_ha (the readers are generated)."""

from sm_clusterstack import constraints, errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.ha import disable as ha_disable
from sm_clusterstack.xapi.ha import enable as ha_enable
from sm_clusterstack.xapi.rpc.registry import method


def _max_failures(ctx, stack: str = "") -> int:
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        hosts = records.host_count(conn)
    return constraints.max_host_failures_to_tolerate(stack or pool["ha_cluster_stack"], hosts)


@method("pool.ha_compute_max_host_failures_to_tolerate")
def ha_compute_max_host_failures_to_tolerate(ctx, session) -> str:
    """The most host failures the pool's HA survives (no VMs: the plan is about hosts only)."""
    return str(_max_failures(ctx))


@method("pool.ha_compute_hypothetical_max_host_failures_to_tolerate", "configuration:map")
def ha_compute_hypothetical_max_host_failures_to_tolerate(ctx, session, configuration) -> str:
    """The same with proposed protected VMs ({VM ref: restart priority}): the shim has no VMs, so only {}."""
    for vm in configuration:
        raise XenAPIError(errors.HANDLE_INVALID, "VM", vm)
    return str(_max_failures(ctx))


@method("pool.set_ha_host_failures_to_tolerate", "self:ref:pool", "value:int")
def set_ha_host_failures_to_tolerate(ctx, session, self, value) -> str:
    """Set the number of failures to plan for; above the maximum is HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN."""
    value = int(value)  # the api layer checked it is an ASCII int64
    if value < 0:
        raise XenAPIError(errors.INVALID_VALUE, "value", str(value))
    if value > _max_failures(ctx):
        raise XenAPIError(errors.HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN)
    return context.set_fields(ctx, "pool", self, ha_host_failures_to_tolerate=value)


@method("pool.enable_ha", "heartbeat_srs:refs:SR", "configuration:map", "cluster_stack:str", optional=1)
def enable_ha(ctx, session, heartbeat_srs, configuration, cluster_stack="") -> str:
    """Turn HA on with the cluster stack the rules choose (or the one requested)."""
    ha_enable.enable(ctx, heartbeat_srs, configuration, cluster_stack)
    return ""


@method("pool.disable_ha")
def disable_ha(ctx, session) -> str:
    """Turn HA off."""
    ha_disable.disable(ctx)
    return ""


@method("pool.set_name_label", "self:ref:pool", "value:str")
def set_name_label(ctx, session, self, value) -> str:
    """Rename the pool."""
    return context.set_fields(ctx, "pool", self, name_label=value)


@method("pool.get_cluster_stack_info", "self:ref:pool")
def get_cluster_stack_info(ctx, session, self) -> dict:
    """(shim only) {"default": stack, "stacks": {name: "type type..." or "any", or "error: ..."}}."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "pool", self)
    found = {}
    for name in stacks.installed_stacks(ctx.stack_root):
        try:
            supported = stacks.supported_srs(ctx.stack_root, name)
        except stacks.StackError as e:
            found[name] = "error: %s" % e
            continue
        found[name] = "any" if supported is None else " ".join(supported)
    return {"default": ctx.default_stack, "stacks": found}
