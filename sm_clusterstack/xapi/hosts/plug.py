"""PBD.plug and PBD.unplug: reserve and check, run the driver, then commit.

Plug, as DESIGN.md says: under the pool-wide write transaction, check the
cluster-stack rules counting every PBD not detached (attached, being
plugged or being unplugged) as attached, and mark the PBD ``plugging``;
run the driver's ``sr_attach`` outside any transaction; then mark it
``attached``, or ``detached`` again if the driver failed.  Two concurrent
plugs are serialised by the write lock, and the second one sees the
first's reservation, so no interleaving attaches SRs with disjoint stacks.

The check reads one representative (the lowest ref) of each constrained SM
type among active PBDs through the index (sr_type, active, SR): its cost depends on the
number of SM types, not on the size of the pool.  SRs of one type share
their ``required_cluster_stack``, so the rules decide the same.
"""

import logging
import sqlite3
import typing

from sm_clusterstack import constraints, errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.hosts import drivers
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
PLUGGING, ATTACHED, UNPLUGGING, DETACHED = "plugging", "attached", "unplugging", "detached"
DESTROYING = "destroying"  # SR.destroy runs the driver's sr_delete: no plug, unplug nor destroy meanwhile


def active_constrained(conn: sqlite3.Connection) -> typing.List[constraints.SR]:
    """One SR per constrained SM type that has a PBD not detached (its lowest ref)."""
    found = []
    for sr_type, required in records.constrained_sm_types(conn):
        sr = records.first_active_sr_of_type(conn, sr_type)
        if sr is not None:
            found.append(constraints.SR(sr, sr_type, required))
    return found


def ha_state(conn: sqlite3.Connection) -> typing.Tuple[bool, str]:
    """(HA enabled, its stack); an enable_ha in progress counts as enabled on its stack."""
    plan = records.ha_plan(conn)
    if plan is not None:
        return True, plan.stack
    pool = records.pool_row(conn)
    return bool(pool["ha_enabled"]), pool["ha_cluster_stack"]


def check(conn: sqlite3.Connection, sr_ref: str, sr_type: str) -> None:
    """Raise INCOMPATIBLE_CLUSTER_STACK_ACTIVE if an SR of ``sr_type`` may not attach now."""
    target = constraints.SR(sr_ref, sr_type, records.required_of(conn, sr_type))
    enabled, stack = ha_state(conn)
    constraints.check_plug(target, active_constrained(conn), enabled, stack)


def check_pbd(store: store_mod.Store, pbd_ref: str) -> None:
    """The server-side plug check alone, in the write transaction, recording nothing."""
    with store.check_only() as conn:
        pbd = model.check_ref(conn, "PBD", pbd_ref)
        check(conn, pbd["SR"], pbd["sr_type"])


def _busy(pbd: sqlite3.Row) -> XenAPIError:
    return XenAPIError(errors.OPERATION_NOT_ALLOWED, "PBD %s is %s" % (pbd["ref"], pbd["state"]))


def reserve(ctx, pbd_ref: str) -> typing.Optional[typing.Tuple[sqlite3.Row, sqlite3.Row]]:
    """Check and mark ``pbd_ref`` plugging; its (PBD, SR) rows, or None if attached."""
    with ctx.store.write() as conn:
        pbd = model.check_ref(conn, "PBD", pbd_ref)
        if pbd["state"] == ATTACHED:
            return None
        if pbd["state"] != DETACHED:
            raise _busy(pbd)
        sr = store_mod.row(conn, "SR", pbd["SR"])
        if sr["creating"]:
            raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "SR %s is being created" % sr["ref"])
        check_sharing(conn, sr, pbd["host"])
        check(conn, sr["ref"], sr["type"])
        set_state(conn, pbd_ref, PLUGGING)
    return pbd, sr


def check_sharing(conn: sqlite3.Connection, sr: sqlite3.Row, host: str) -> None:
    """SR_NOT_SHARABLE [sr, other host] when a non-shared SR is attached (or being plugged) on another host.

    As ``xapi_pbd.ml``/``storage_access.ml`` ``check_sharing_constraint``; a PBD being plugged counts as
    attached here, as it does for the one-stack rule.
    """
    if sr["shared"]:
        return
    for other in records.pbds_master_first(conn, sr["ref"]):
        if other["host"] != host and other["state"] != DETACHED:
            raise XenAPIError(errors.SR_NOT_SHARABLE, sr["ref"], other["host"])


def finish(ctx, pbd_ref: str, was: str, now: str) -> None:
    """Move ``pbd_ref`` from state ``was`` to ``now`` (if it is still in ``was``)."""
    with ctx.store.write() as conn:
        set_state(conn, pbd_ref, now, was)


def set_state(conn: sqlite3.Connection, pbd_ref: str, now: str, was: typing.Optional[str] = None) -> None:
    """Set a PBD's state (and ``active``, its indexed "not detached"), if it is in ``was`` when given."""
    records.set_pbd_state(conn, pbd_ref, now, was, detached=DETACHED)


def plug(ctx, pbd_ref: str) -> None:
    """PBD.plug: attach the SR on the PBD's host, if the rules allow it."""
    reserved = reserve(ctx, pbd_ref)
    if reserved is None:
        return
    attach_reserved(ctx, *reserved)


def attach_reserved(ctx, pbd: typing.Any, sr: typing.Any) -> None:
    """Run ``sr_attach`` for a PBD already reserved (``plugging``); mark it attached, or detached on failure."""
    try:
        drivers.run_for_pbd(ctx, "sr_attach", pbd, sr)
    except BaseException as e:
        if not is_clean_fault(e):
            detach_quietly(ctx, pbd, sr, "sr_attach failed uncleanly (%s)" % e)
        finish(ctx, pbd["ref"], PLUGGING, DETACHED)
        raise
    finish(ctx, pbd["ref"], PLUGGING, ATTACHED)
    with ctx.store.read() as conn:
        on_master = records.master(conn) == pbd["host"]
    if on_master:
        update_sizes(ctx, pbd, sr)


def update_sizes(ctx, pbd: typing.Any, sr: typing.Any) -> None:
    """The initial SR update after the master's PBD attached: the driver's ``sr_update`` reports the SR's sizes.

    As ``message_forwarding.ml`` ``PBD.plug`` (the master's PBD is plugged
    first: "PBD.plug initial SR scan", ``Xapi_sr.update``), so an SR just
    created or plugged has its physical size without an ``xe sr-scan``.
    Where xapi would fail the plug with the update's error, the PBD stays
    attached and the failure is logged: the sizes are then what they were.
    """
    try:
        drivers.run_for_pbd(ctx, "sr_update", pbd, sr)
    except Exception as e:  # the SR is attached; its sizes wait for an sr-scan
        LOG.warning("SR %s: sr_update after the master's plug failed (its sizes are unchanged until xe sr-scan): %s",
                    sr["uuid"], e)


def is_clean_fault(error: BaseException) -> bool:
    """True when a driver answered a fault: it did not attach, so nothing needs detaching.

    A timeout, a non-zero exit or output that is no answer (plain
    SR_BACKEND_FAILURE), or any other exception, may leave the SR attached.
    """
    return isinstance(error, XenAPIError) and error.code != errors.SR_BACKEND_FAILURE_PREFIX


def detach_quietly(ctx, pbd: typing.Any, sr: typing.Any, why: str) -> None:
    """Run ``sr_detach`` for ``pbd`` best effort (it is idempotent), logging a failure."""
    LOG.warning("PBD %s: %s: detaching it", pbd["ref"], why)
    try:
        drivers.run_for_pbd(ctx, "sr_detach", pbd, sr)
    except Exception as e:  # best effort: the PBD is marked detached anyway
        LOG.warning("sr_detach of PBD %s failed: %s", pbd["ref"], e)


def unplug(ctx, pbd_ref: str) -> None:
    """PBD.unplug: detach the SR on the PBD's host."""
    with ctx.store.write() as conn:
        pbd = model.check_ref(conn, "PBD", pbd_ref)
        if pbd["state"] == DETACHED:
            return
        if pbd["state"] != ATTACHED:
            raise _busy(pbd)
        check_not_statefile_sr(conn, pbd["SR"])
        sr = store_mod.row(conn, "SR", pbd["SR"])
        set_state(conn, pbd_ref, UNPLUGGING)
    try:
        drivers.run_for_pbd(ctx, "sr_detach", pbd, sr)
    except BaseException:
        finish(ctx, pbd_ref, UNPLUGGING, ATTACHED)
        raise
    finish(ctx, pbd_ref, UNPLUGGING, DETACHED)


def check_not_statefile_sr(conn: sqlite3.Connection, sr_ref: str) -> None:
    """HA_IS_ENABLED if HA is on (or being enabled) with its statefile on ``sr_ref``.

    While enable_ha runs, its heartbeat SR is protected from its first step,
    before the statefile exists.
    """
    pool, plan = records.pool_row(conn), records.ha_plan(conn)
    if plan is not None and plan.heartbeat_sr == sr_ref:
        raise XenAPIError(errors.HA_IS_ENABLED)
    vdis = list(store_mod.loads(pool["ha_statefiles"]) or [])
    if not (pool["ha_enabled"] or plan) or not vdis:
        return
    if records.sr_holds_any(conn, sr_ref, vdis):
        raise XenAPIError(errors.HA_IS_ENABLED)
