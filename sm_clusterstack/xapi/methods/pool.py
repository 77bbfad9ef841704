"""pool.*: enable_ha, disable_ha (the readers are generated)."""

from sm_clusterstack import constraints, errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.ha import enable as ha
from sm_clusterstack.xapi.rpc.registry import method


def _max_failures(ctx, stack: str = "") -> int:
    with ctx.store.read() as conn:
        pool = context.pool_row(conn)
        hosts = conn.execute("SELECT COUNT(*) FROM host").fetchone()[0]
    return constraints.max_host_failures_to_tolerate(stack or pool["ha_cluster_stack"], hosts)


@method("pool.ha_compute_max_host_failures_to_tolerate")
def ha_compute_max_host_failures_to_tolerate(ctx, session) -> str:
    """The most host failures the pool's HA survives (no VMs: the plan is about hosts only)."""
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
    ha.enable(ctx, heartbeat_srs, configuration, cluster_stack)
    return ""


@method("pool.disable_ha")
def disable_ha(ctx, session) -> str:
    """Turn HA off."""
    ha.disable(ctx)
    return ""


@method("pool.set_name_label", "self:ref:pool", "value:str")
def set_name_label(ctx, session, self, value) -> str:
    """Rename the pool."""
    return context.set_fields(ctx, "pool", self, name_label=value)
