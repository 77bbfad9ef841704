"""enable_ha's checks, in xapi's order, on one read of the store (``xapi_ha.ml`` ``enable``).

``check(conn, ctx, heartbeat_srs, configuration, cluster_stack)`` raises
the error xapi would raise first, or returns the ``Choice``: the stack, the
heartbeat SR, the base timeout and the statefile/metadata VDIs to reuse.
Nothing here changes anything, so ``sm-clusterstack ha preflight`` can run
it as a dry run.  Our one deliberate difference: a host without a management
PIF is refused here, before anything is created (xapi finds it when it writes
that host's xhad.conf, after the statefile exists).
"""

import typing

from sm_clusterstack import constraints, errors, stacks
from sm_clusterstack.digits import is_digits
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

STATEFILE_SIZE = constraints.STATEFILE_SIZE  # the sizes and the room they need: rules of constraints
METADATA_SIZE = constraints.REDO_LOG_SIZE
STATEFILE_TYPE, METADATA_TYPE = "ha_statefile", "redo_log"


class Choice(object):
    """What enable_ha decided: the stack, heartbeat SR, base timeout, VDIs to reuse (None: create)."""

    def __init__(self, stack: str, sr: str, timeout: int, statefile: typing.Optional[str],
                 metadata: typing.Optional[str]) -> None:
        self.stack = stack
        self.sr = sr
        self.timeout = timeout
        self.statefile = statefile
        self.metadata = metadata


def _map(text: str) -> typing.Dict[str, typing.Any]:
    found = store_mod.loads(text)
    return found if isinstance(found, dict) else {}


def base_timeout(configuration: typing.Dict[str, str], pool_other_config: typing.Dict[str, str]) -> int:
    """``Timeouts.get_base_t``: configuration:timeout, else other_config:default_ha_timeout, else 60."""
    for source, key in ((configuration, "timeout"), (pool_other_config, "default_ha_timeout")):
        if key in source:
            value = source[key]
            if not isinstance(value, str) or not is_digits(value, max_length=9):
                raise XenAPIError(errors.INVALID_VALUE, key, str(value))
            t = int(value)
            if t < xhadconf.MIN_TIMEOUT:
                raise XenAPIError(errors.INVALID_VALUE, key, value)
            return t
    return xhadconf.DEFAULT_TIMEOUT


def check(conn, ctx, heartbeat_srs: typing.List[str], configuration: typing.Dict[str, str],
          cluster_stack: str = "") -> Choice:
    """The checks of enable_ha, in xapi's order; the Choice, or the first error."""
    pool = records.pool_row(conn)
    if pool["ha_enabled"]:
        raise XenAPIError(errors.HA_IS_ENABLED)
    for ref in heartbeat_srs:
        model.check_ref(conn, "SR", ref)
    hosts = records.host_refs(conn)
    _check_hosts(conn, hosts)
    t = base_timeout(configuration, _map(pool["other_config"]))
    stack = constraints.choose_stack(plug.active_constrained(conn), stacks.installed_stacks(ctx.stack_root),
                                     cluster_stack, default=ctx.default_stack)
    _check_safe(ctx, stack)
    supported = _supported(ctx, stack)
    if heartbeat_srs:
        sr = heartbeat_srs[0]
        reuse = check_sr(conn, sr, hosts, supported)
    else:
        sr, reuse = _any_eligible(conn, hosts, supported)
    return Choice(stack, sr, t, reuse[0], reuse[1])


def _check_hosts(conn, hosts: typing.List[str]) -> None:
    for host in hosts:
        if not records.is_live(conn, host):
            raise XenAPIError(errors.HOST_OFFLINE, host)
    for host in hosts:
        if records.management_pif(conn, host) is None:
            name = store_mod.row(conn, "host", host)["hostname"]
            raise XenAPIError(errors.INTERNAL_ERROR, "Cannot enable HA on host %s: there is no management "
                                                     "interface for heartbeating" % name)


def check_sr(conn, sr: str, hosts: typing.List[str],
             supported: typing.Optional[typing.List[str]]) -> typing.Tuple[typing.Optional[str], typing.Optional[str]]:
    """``check_sr_can_host_statefile`` + the redo-log fit: the (statefile, metadata) VDIs to reuse."""
    pbds = records.pbds_master_first(conn, sr)
    attached_on = [p["host"] for p in pbds if p["state"] in model.ATTACHED_STATES]
    if constraints.hosts_without_attached_pbd(hosts, attached_on) or len(attached_on) < len(pbds):
        raise XenAPIError(errors.SR_NO_PBDS, sr)
    row = model.check_ref(conn, "SR", sr)
    constraints.check_statefile_srs([constraints.SR(sr, row["type"], records.required_of(conn, row["type"]))],
                                    supported)
    constraints.check_offline_attach(sr, records.sm_features(conn, row["type"]))
    return (_fits(conn, row, STATEFILE_TYPE, STATEFILE_SIZE), _fits(conn, row, METADATA_TYPE, METADATA_SIZE))


def _fits(conn, sr_row, vdi_type: str, minimum: int) -> typing.Optional[str]:
    """``ha_fits_sr``: an existing VDI of ``vdi_type`` big enough, or None when there is room for new ones."""
    found = records.reusable_vdi(conn, sr_row["ref"], vdi_type, minimum)
    if found is not None:
        return found
    constraints.check_statefile_room(sr_row["ref"], sr_row["physical_size"], sr_row["physical_utilisation"])
    return None


def _any_eligible(conn, hosts, supported):
    """``list_srs_which_can_host_statefile``: the first SR that passes, else CANNOT_CREATE_STATE_FILE."""
    for sr in records.sr_refs(conn):
        try:
            return sr, check_sr(conn, sr, hosts, supported)
        except XenAPIError:
            continue
    raise XenAPIError(errors.CANNOT_CREATE_STATE_FILE)


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
