"""Reconciling the store after a crash (SIGKILL at any point).

SQLite's journal keeps every transaction whole; what a crash can leave
behind are the shim's own in-flight marks: PBDs ``plugging`` or
``unplugging`` (the driver may or may not have finished), an enable_ha
plan, a disable_ha journal, HA VDIs recorded but not yet created, and the
internal sessions of drivers that were running.  ``reconcile`` detaches the
half-plugged PBDs and those of an interrupted SR.destroy (sr_detach is idempotent), finishes an interrupted
disable_ha, runs the disable path of an interrupted enable_ha, removes
unfinished HA VDIs, and drops the internal sessions.
"""

import logging
import typing

from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.ha import disable as ha_disable
from sm_clusterstack.xapi.ha import enable as ha_enable
from sm_clusterstack.xapi.ha import steps as ha_steps
from sm_clusterstack.xapi.hosts import plug

LOG = logging.getLogger("sm_clusterstack.xapi")


def reconcile(ctx) -> typing.Dict[str, int]:
    """Undo in-flight operations; counts of what was done."""
    with ctx.store.write() as conn:
        records.delete_internal_sessions(conn)
        records.clear_ha_operation(conn)  # the dead shim's operation
        half_created = forget_half_created(conn)  # with its PBDs, reserved plugging
        destroying = count_destroying(conn)
        busy = records.busy_pbds(conn)
        had_disable = records.disable_journal(conn) is not None
        had_plan = records.ha_plan(conn) is not None
    for pbd in busy:
        _detach(ctx, pbd)
    if had_disable:
        LOG.warning("finishing a disable_ha interrupted by a crash")
        ha_disable.finish_disable(ctx)
    if had_plan:
        LOG.warning("running the disable path of an enable_ha interrupted by a crash")
        ha_enable.rollback(ctx)
    unfinished = ha_steps.forget_unfinished_vdis(ctx)
    return {"pbds": len(busy), "ha_plans": int(had_plan), "ha_disables": int(had_disable), "srs": half_created,
            "destroying": destroying, "ha_vdis": unfinished}


def forget_half_created(conn) -> int:
    """Forget SRs whose sr_create a crash interrupted (their storage is left as it is)."""
    refs = records.srs_being_created(conn)
    for ref in refs:
        LOG.warning("SR %s was being created at the crash: forgetting it", ref)
        records.delete_sr_children(conn, ref)
        store_mod.delete(conn, "SR", ref)
    return len(refs)


def count_destroying(conn) -> int:
    """How many SRs a crash interrupted in SR.destroy (their PBDs are detached with the others).

    Whether ``sr_delete`` finished is unknown, but it mounts the SR to look
    for VDIs: the PBDs stay ``destroying`` (attached, for the rules) until
    ``sr_detach`` has run, then the SR stays, detached; a new SR.destroy or
    SR.forget decides its fate.
    """
    srs = records.srs_with_pbds_in(conn, plug.DESTROYING)
    for ref in srs:
        LOG.warning("SR %s was being destroyed at the crash: its storage may be gone; "
                    "destroy or forget it again", ref)
    return len(srs)


def _detach(ctx, pbd) -> None:
    with ctx.store.read() as conn:
        sr = store_mod.row(conn, "SR", pbd["SR"])
    if sr is None:
        LOG.warning("PBD %s was %s at the crash and its SR %s is gone", pbd["ref"], pbd["state"], pbd["SR"])
    else:
        plug.detach_quietly(ctx, pbd, sr, "was %s at the crash" % pbd["state"])
    plug.finish(ctx, pbd["ref"], pbd["state"], plug.DETACHED)
