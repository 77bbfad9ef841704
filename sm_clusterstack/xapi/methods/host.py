"""host.*: other_config, the name, and, shim only, the address.

Nothing a host's other_config holds reaches a process: where a host's
scripts and drivers run is its host sandbox, built by the shim from its
own state (``other_config:sandbox-netns`` only names it, for operators).
``host.set_address`` (not in xapi, where the address comes from the
management interface) sets the address of a host that has no sandbox.
"""

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records


def _other_config(ctx, host, change):
    with ctx.store.write() as conn:
        row = model.check_ref(conn, "host", host)
        other = store_mod.loads(row["other_config"]) or {}
        change(other)
        store_mod.update(conn, "host", host, other_config=other)
    return ""


@method("host.set_other_config", "self:ref:host", "value:map")
def set_other_config(ctx, session, self, value) -> str:
    """Replace a host's other_config."""
    return _other_config(ctx, self, lambda other: (other.clear(), other.update(value)))


@method("host.add_to_other_config", "self:ref:host", "key:str", "value:str")
def add_to_other_config(ctx, session, self, key, value) -> str:
    """Set one key of a host's other_config."""
    return _other_config(ctx, self, lambda other: other.__setitem__(key, value))


@method("host.remove_from_other_config", "self:ref:host", "key:str")
def remove_from_other_config(ctx, session, self, key) -> str:
    """Remove one key of a host's other_config (no error when absent)."""
    return _other_config(ctx, self, lambda other: other.pop(key, None))


@method("host.set_address", "self:ref:host", "value:str")
def set_address(ctx, session, self, value) -> str:
    """Set the IPv4 or IPv6 address the HA configuration gives for this host."""
    if not xhadconf.is_ip_address(value):
        raise XenAPIError(errors.INVALID_VALUE, "address", value)
    return context.set_fields(ctx, "host", self, address=value)


@method("host.set_name_label", "self:ref:host", "value:str")
def set_name_label(ctx, session, self, value) -> str:
    """Rename a host."""
    return context.set_fields(ctx, "host", self, name_label=value, hostname=value)


FIST_FAIL_HEALTHCHECK = "/var/lib/xcp/fist_fail_healthcheck"


@method("host.ha_xapi_healthcheck")
def ha_xapi_healthcheck(ctx, session) -> bool:
    """Whether xapi on the asking host is healthy ("since we got here unharmed, all is well").

    The host is the one whose own socket the call came on; the FIST point
    ``fist_fail_healthcheck`` (xapi_fist.ml) makes it unhealthy.
    """
    import os
    from sm_clusterstack.xapi.rpc import dispatch as api
    from sm_clusterstack.xapi.hosts import onhost
    host = getattr(api.CALLER, "host", "")
    if host and os.path.exists(onhost.host_path(ctx, host, FIST_FAIL_HEALTHCHECK)):
        return False
    return bool(ctx.ready)


def _not_master(ctx, host: str) -> None:
    """The shim's own limit, then ``prepare_for_poweroff_precheck``: HOST_NOT_DISABLED for a host still enabled."""
    with ctx.store.read() as conn:
        row = model.check_ref(conn, "host", host)
        if records.master(conn) == host:
            raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "the shim does not shut down or reboot its master")
        if row["enabled"]:
            raise XenAPIError(errors.HOST_NOT_DISABLED)  # xapi_host_helpers.ml assert_host_disabled


def _check_up(ctx, host: str) -> None:
    """HOST_OFFLINE for a host shut down: xapi forwards Host.disable and Host.enable to the host itself."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "host", host)
    if ctx.ha_runtime is not None and host in ctx.ha_runtime.down:
        raise XenAPIError(errors.HOST_OFFLINE, host)


@method("host.disable", "host:ref:host", "auto_enable:bool", optional=1)
def disable(ctx, session, host, auto_enable=True) -> str:
    """``xapi_host.ml`` ``disable``: no new work on the host; ``auto_enable`` false keeps it disabled after a reboot."""
    _check_up(ctx, host)
    return context.set_fields(ctx, "host", host, enabled=False, auto_enable=bool(auto_enable))


@method("host.enable", "host:ref:host")
def enable(ctx, session, host) -> str:
    """``xapi_host.ml`` ``enable``: the host takes work again (and is enabled again after its reboots)."""
    _check_up(ctx, host)
    return context.set_fields(ctx, "host", host, enabled=True, auto_enable=True)


@method("host.emergency_ha_disable", "soft:bool", optional=1)
def emergency_ha_disable(ctx, session, soft=False) -> str:
    """``xapi_ha.ml`` ``emergency_ha_disable`` on the host the call came to (the master, or a host's own socket).

    HA_NOT_ENABLED when the host is not armed (unless ``soft``); else its
    fencing disarmed, its daemon stopped and the host excluded, each failure
    logged and passed over.  Not ``soft``: the host is no longer armed, so it
    does not rejoin at its boot; the pool still says HA is enabled (disable
    it, or enable it again, to bring the pool back into one state).
    """
    from sm_clusterstack.xapi.ha import lifecycle
    from sm_clusterstack.xapi.rpc import dispatch as api
    with ctx.store.read() as conn:
        host = getattr(api.CALLER, "host", "") or records.master(conn)
    lifecycle.emergency_ha_disable(ctx, ctx.ha_runtime, host, bool(soft))
    return ""


@method("host.shutdown", "host:ref:host")
def shutdown(ctx, session, host) -> str:
    """A clean shutdown of a disabled host: with HA on, statefile access (HA_LOST_STATEFILE), disarm, stop, excluded."""
    from sm_clusterstack.xapi.ha import lifecycle
    _not_master(ctx, host)
    lifecycle.clean_shutdown(ctx, ctx.ha_runtime, host)
    return ""


@method("host.declare_dead", "host:ref:host")
def declare_dead(ctx, session, host) -> str:
    """The operator powered ``host`` off: it is not counted live again until it boots (HOST_IS_LIVE if it answers)."""
    from sm_clusterstack.xapi.ha import lifecycle
    with ctx.store.read() as conn:
        model.check_ref(conn, "host", host)
    lifecycle.declare_dead(ctx, ctx.ha_runtime, host)
    return ""


@method("host.reboot", "host:ref:host")
def reboot(ctx, session, host) -> str:
    """A disabled host's clean shutdown (unless it is down already), then its boot: it rejoins, is enabled again."""
    from sm_clusterstack.xapi.ha import lifecycle
    _not_master(ctx, host)
    if host not in ctx.ha_runtime.down:
        try:
            lifecycle.clean_shutdown(ctx, ctx.ha_runtime, host)
        except lifecycle.LostStatefile as e:
            if not e.daemon_gone:  # a host whose daemon is gone (it fenced) just boots
                raise
    lifecycle.boot(ctx, ctx.ha_runtime, host)
    with ctx.store.write() as conn:  # xapi's start: enabled again unless disabled with auto_enable=false
        if store_mod.row(conn, "host", host)["auto_enable"]:
            store_mod.update(conn, "host", host, enabled=True)
    return ""
