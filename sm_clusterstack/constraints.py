"""The cluster-stack selection rules (REFERENCE.md section 2), pure.

Every function here decides on plain data and raises XenAPIError with the
code and params of the design; nothing reads a database, a file or the
clock.  The shim and the drivers build a snapshot and call these.

Determinism: when several attached SRs constrain the stack, their
alternatives are intersected keeping the order in which the SR with the
lowest ref lists them, and "first installed alternative" follows that order.
"""

import re
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError

DEFAULT_STACK = "xhad"
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class SR(object):
    """An SR as the rules see it: ref, type and its SM's required_cluster_stack."""

    __slots__ = ("ref", "type", "required_cluster_stack")

    def __init__(
            self,
            ref: str,
            type: str,
            required_cluster_stack: typing.Iterable[str] = (),
    ) -> None:
        self.ref = ref
        self.type = type
        self.required_cluster_stack = tuple(required_cluster_stack)

    def __repr__(self):
        return "SR(%r, %r, %r)" % (self.ref, self.type, self.required_cluster_stack)


def is_valid_name(name: typing.Any) -> bool:
    """True when ``name`` is one safe path component: [A-Za-z0-9][A-Za-z0-9._-]*."""
    return (isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH
            and _NAME.match(name) is not None)


def check_stack_name(name: typing.Any) -> str:
    """Return ``name`` if it may name a stack, else raise UNKNOWN_CLUSTER_STACK."""
    if not is_valid_name(name):
        raise XenAPIError(errors.UNKNOWN_CLUSTER_STACK, name)
    return name


def constraining_srs(attached: typing.Iterable[SR]) -> typing.List[SR]:
    """The attached SRs that require a stack, lowest ref first."""
    return sorted((sr for sr in attached if sr.required_cluster_stack), key=lambda sr: sr.ref)


def required_stacks(attached: typing.Iterable[SR]) -> typing.Optional[typing.List[str]]:
    """The stacks every constraining SR allows, or None when nothing constrains.

    An empty list means the attached SRs already conflict (PBD.plug is there
    to make sure it never happens).
    """
    srs = constraining_srs(attached)
    if not srs:
        return None
    candidates = list(_unique(srs[0].required_cluster_stack))
    for sr in srs[1:]:
        allowed = set(sr.required_cluster_stack)
        candidates = [s for s in candidates if s in allowed]
    return candidates


def choose_stack(
        attached: typing.Iterable[SR],
        installed: typing.Iterable[str],
        requested: str = "",
        active_stack: str = "",
        default: str = DEFAULT_STACK,
) -> str:
    """The stack pool.enable_ha uses.

    ``requested`` is enable_ha's cluster_stack ("" lets the rules choose);
    ``active_stack`` is the stack of a cluster already running, if any.
    Raises UNKNOWN_CLUSTER_STACK or CLUSTER_STACK_CONSTRAINT.
    """
    attached = list(attached)
    installed = set(installed)
    if requested:
        return _check_requested(attached, installed, requested)
    candidates = required_stacks(attached)
    if candidates is None:
        chosen = active_stack or default
        if chosen not in installed:
            raise XenAPIError(errors.UNKNOWN_CLUSTER_STACK, chosen)
        return chosen
    for stack in candidates:
        if stack in installed:
            return stack
    if not candidates:  # attached SRs conflict: name the first one's need
        sr = constraining_srs(attached)[0]
        raise XenAPIError(errors.CLUSTER_STACK_CONSTRAINT, sr.ref, sr.required_cluster_stack[0])
    raise XenAPIError(errors.UNKNOWN_CLUSTER_STACK, candidates[0])


def _check_requested(attached: typing.List[SR], installed: typing.Set[str], requested: str) -> str:
    check_stack_name(requested)
    if requested not in installed:
        raise XenAPIError(errors.UNKNOWN_CLUSTER_STACK, requested)
    for sr in constraining_srs(attached):
        if requested not in sr.required_cluster_stack:
            needed = [s for s in sr.required_cluster_stack if s in installed]
            needed = needed or list(sr.required_cluster_stack)
            raise XenAPIError(errors.CLUSTER_STACK_CONSTRAINT, sr.ref, needed[0])
    return requested


def check_plug(
        sr: SR,
        attached: typing.Iterable[SR],
        ha_enabled: bool,
        ha_cluster_stack: str,
) -> None:
    """Raise INCOMPATIBLE_CLUSTER_STACK_ACTIVE if ``sr`` may not be attached now.

    ``attached`` are the SRs attached (or being attached) in the pool; ``sr``
    itself among them is ignored.  The plug is refused when HA runs a stack
    ``sr`` does not allow, or when it would leave the attached SRs with no
    stack in common.
    """
    needs = sr.required_cluster_stack
    if not needs:
        return
    refuse = XenAPIError(errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE, ",".join(needs))
    if ha_enabled and ha_cluster_stack not in needs:
        raise refuse
    others = [other for other in attached if other.ref != sr.ref]
    if required_stacks(others + [sr]) == []:
        raise refuse


def check_statefile_srs(
        heartbeat_srs: typing.Iterable[SR],
        supported_types: typing.Optional[typing.Sequence[str]],
) -> None:
    """Raise if the heartbeat SRs cannot hold the chosen stack's statefile.

    ``supported_types`` is the stack's ha_supported_srs list, or None when
    the stack has no such file (any SR type will do).  No heartbeat SR at
    all is CANNOT_CREATE_STATE_FILE; one of an unlisted type is
    INCOMPATIBLE_STATEFILE_SR with the listed types comma-joined.
    """
    heartbeat_srs = list(heartbeat_srs)
    if not heartbeat_srs:
        raise XenAPIError(errors.CANNOT_CREATE_STATE_FILE)
    if supported_types is None:
        return
    for sr in heartbeat_srs:
        if sr.type not in supported_types:
            raise XenAPIError(errors.INCOMPATIBLE_STATEFILE_SR, ",".join(supported_types))


def check_heartbeat_srs_plugged(
        heartbeat_srs: typing.Iterable[SR],
        hosts: typing.Iterable[str],
        plugged: typing.Iterable[typing.Tuple[str, str]],
) -> None:
    """Raise SR_NO_PBDS unless each heartbeat SR is plugged on every host.

    ``plugged`` holds (host ref, SR ref) pairs of currently attached PBDs.
    """
    plugged = set(plugged)
    hosts = list(hosts)
    for sr in heartbeat_srs:
        if any((host, sr.ref) not in plugged for host in hosts):
            raise XenAPIError(errors.SR_NO_PBDS, sr.ref)


def _unique(items: typing.Iterable[str]) -> typing.Iterator[str]:
    seen = set()  # type: typing.Set[str]
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item


STATEFILE_ARBITRATED_STACKS = ("xhad",)  # survival through the statefile: any single host may be left


def max_host_failures_to_tolerate(stack: str, hosts: int) -> int:
    """How many host failures HA on ``stack`` survives in a pool of ``hosts`` hosts (no VMs to plan for).

    xhad keeps a partition alive through the statefile whatever its size: n - 1.
    A quorum-based stack needs a majority of the votes: floor((n - 1) / 2).
    """
    if hosts < 1:
        return 0
    return hosts - 1 if stack in STATEFILE_ARBITRATED_STACKS else (hosts - 1) // 2


# The heartbeat SR's room (xha_statefile.ml, redo_log.ml): SM makes no VDI under 4 MiB, so each is rounded up
SM_VDI_ALIGN = 4 << 20
STATEFILE_SIZE = 4096 + 64 * 4096  # minimum_statefile_size: a global section and 64 host sections of 4 KiB
REDO_LOG_SIZE = (4000000000 // SM_VDI_ALIGN - 2) * SM_VDI_ALIGN  # Redo_log.minimum_vdi_size


def _round_up(size: int) -> int:
    return -(-size // SM_VDI_ALIGN) * SM_VDI_ALIGN


MINIMUM_SR_SIZE = _round_up(STATEFILE_SIZE) + _round_up(REDO_LOG_SIZE)  # minimum_sr_size: 3,992,977,408 bytes


def check_statefile_room(sr_ref: str, physical_size: int, physical_utilisation: int) -> None:
    """SR_SOURCE_SPACE_INSUFFICIENT unless the SR has MINIMUM_SR_SIZE free (``ha_fits_sr``).

    xapi asks it of each VDI it must create (statefile, redo log), and asks
    the whole sum each time; free is physical_size - physical_utilisation as
    the SR last reported them (``Helpers.get_sr_free_space``): a size never
    measured (0, or -1 after SR.introduce) leaves no room.
    """
    if physical_size - physical_utilisation < MINIMUM_SR_SIZE:
        raise XenAPIError(errors.SR_SOURCE_SPACE_INSUFFICIENT, sr_ref)


OFFLINE_ATTACH_FEATURES = ("VDI_GENERATE_CONFIG", "VDI_ATTACH_OFFLINE")  # static-vdis attaches the statefile at boot


def check_offline_attach(sr_ref: str, features: typing.Iterable[str]) -> None:
    """SR_OPERATION_NOT_SUPPORTED unless the SR's SM declares one of OFFLINE_ATTACH_FEATURES
    (``check_sr_can_host_statefile``)."""
    features = set(features)
    if not any(f in features for f in OFFLINE_ATTACH_FEATURES):
        raise XenAPIError(errors.SR_OPERATION_NOT_SUPPORTED, sr_ref)


def hosts_without_attached_pbd(hosts: typing.Iterable[str], attached_on: typing.Iterable[str]) -> typing.List[str]:
    """The hosts, in the given order, where the SR has no attached PBD (``check_sr_can_host_statefile``)."""
    attached_on = set(attached_on)
    return [host for host in hosts if host not in attached_on]
