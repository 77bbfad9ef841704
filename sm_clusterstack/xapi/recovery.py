"""Reconciling the store after a crash (SIGKILL at any point).

SQLite's journal keeps every transaction whole; what a crash can leave
behind are the shim's own in-flight marks: PBDs ``plugging`` or
``unplugging`` (the driver may or may not have finished), an enable_ha
plan, and the internal sessions of drivers that were running.  ``reconcile``
detaches the half-plugged PBDs (sr_detach is idempotent), rolls the plan
back, and drops the internal sessions.
"""

import logging
import typing

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi import drivers, ha, plug
from sm_clusterstack.xapi import store as store_mod

LOG = logging.getLogger("sm_clusterstack.xapi")


def reconcile(ctx) -> typing.Dict[str, int]:
    """Undo in-flight operations; counts of what was done."""
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM session WHERE internal = 1")
        busy = conn.execute("SELECT * FROM PBD WHERE state IN ('plugging', 'unplugging')").fetchall()
        half_created = forget_half_created(conn)
    for pbd in busy:
        _detach(ctx, pbd)
    had_plan = bool(ha_plan(ctx))
    if had_plan:
        LOG.warning("rolling back an enable_ha interrupted by a crash")
        ha.rollback(ctx)
    return {"pbds": len(busy), "ha_plans": int(had_plan), "srs": half_created}


def forget_half_created(conn) -> int:
    """Forget SRs whose sr_create a crash interrupted (their storage is left as it is)."""
    refs = [r[0] for r in conn.execute("SELECT ref FROM SR WHERE creating = 1")]
    for ref in refs:
        LOG.warning("SR %s was being created at the crash: forgetting it", ref)
        conn.execute("DELETE FROM VDI WHERE SR = ?", (ref,))
        conn.execute("DELETE FROM PBD WHERE SR = ?", (ref,))
        store_mod.delete(conn, "SR", ref)
    return len(refs)


def ha_plan(ctx) -> typing.Optional[dict]:
    """The recorded enable_ha plan, if any."""
    with ctx.store.read() as conn:
        return store_mod.loads(conn.execute("SELECT ha_plan FROM pool").fetchone()[0])


def _detach(ctx, pbd) -> None:
    with ctx.store.read() as conn:
        sr = store_mod.row(conn, "SR", pbd["SR"])
    LOG.warning("PBD %s was %s at the crash: detaching it", pbd["ref"], pbd["state"])
    try:
        drivers.run_for_pbd(ctx, "sr_detach", pbd, sr)
    except XenAPIError as e:
        LOG.warning("sr_detach of %s after the crash failed: %s", pbd["ref"], e)
    plug.finish(ctx, pbd["ref"], pbd["state"], plug.DETACHED)
