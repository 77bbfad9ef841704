"""pool.*: enable_ha, disable_ha (the readers are generated)."""

from sm_clusterstack.xapi import context, ha
from sm_clusterstack.xapi.api import method


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
