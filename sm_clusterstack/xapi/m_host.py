"""host.*: other_config (where ``exec-prefix`` lives) and, shim only, the address.

``other_config["exec-prefix"]`` (e.g. ``ip netns exec h2``) is put before
every cluster-stack script the shim runs for that host (only the forms
``context.exec_prefix_problem`` accepts, as it runs as root), so one machine can
play a pool whose hosts are network namespaces; ``host.set_address`` (not
in xapi, where the address comes from the management interface) sets the
IPaddress written to xhad.conf for that host.
"""

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xapi import context, model
from sm_clusterstack.xapi import store as store_mod
from sm_clusterstack.xapi.api import method


def _other_config(ctx, host, change):
    with ctx.store.write() as conn:
        row = model.check_ref(conn, "host", host)
        other = store_mod.loads(row["other_config"]) or {}
        change(other)
        _check_exec_prefix(other)
        store_mod.update(conn, "host", host, other_config=other)
    return ""


def _check_exec_prefix(other: dict) -> None:
    """INVALID_VALUE unless other_config's exec-prefix (run as root) has an accepted form."""
    value = other.get("exec-prefix", "")
    if context.exec_prefix_problem(value):
        raise XenAPIError(errors.INVALID_VALUE, "exec-prefix", value)


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
    """Set the IPv4 address the HA configuration gives for this host."""
    if not xhadconf.is_ipv4(value):
        raise XenAPIError(errors.INVALID_VALUE, "address", value)
    return context.set_fields(ctx, "host", self, address=value)


@method("host.set_name_label", "self:ref:host", "value:str")
def set_name_label(ctx, session, self, value) -> str:
    """Rename a host."""
    return context.set_fields(ctx, "host", self, name_label=value, hostname=value)
