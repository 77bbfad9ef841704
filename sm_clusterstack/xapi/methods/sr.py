"""SR.*: create, introduce, forget, destroy (the readers are generated).

SR.create works as xapi's (``ocaml/xapi/xapi_sr.ml`` ``create``): create the
SR and its PBDs (one per host when shared), run the driver's ``sr_create``
on the given host, then plug the PBDs.  The rules are checked once, in the
first transaction, which also reserves every new PBD (``plugging``): no
other call can attach a conflicting SR while the SR is made, so its plugs
cannot be refused later.  A failing ``sr_create`` leaves no record behind;
once it succeeded the SR exists, and a plug that fails leaves its PBD
detached without failing the call (xapi waits for its plug tasks and
returns the SR).
"""

import logging

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.hosts import drivers
from sm_clusterstack.xapi.methods import pbd as m_pbd
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")


def _sr_row(ref, uuid, name_label, name_description, sr_type, content_type, shared, sm_config, size=0):
    return {"ref": ref, "uuid": uuid, "name_label": name_label, "name_description": name_description,
            "type": sr_type, "content_type": content_type, "shared": bool(shared),
            "physical_size": int(size), "sm_config": dict(sm_config)}


def _check_type(conn, sr_type):
    if records.sm_row(conn, sr_type) is None:
        raise XenAPIError(errors.SR_UNKNOWN_DRIVER, sr_type)


@method("SR.create", "host:ref:host", "device_config:map", "physical_size:int", "name_label:str",
        "name_description:str", "type:str", "content_type:str", "shared:bool", "sm_config:map")
def create(ctx, session, host, device_config, physical_size, name_label, name_description,
           type, content_type, shared, sm_config) -> str:
    """Create an SR on storage, with its PBDs, and plug them."""
    ref = store_mod.new_ref()
    row = _sr_row(ref, store_mod.new_uuid(), name_label, name_description, type, content_type, shared,
                  sm_config, physical_size)
    pbds, pbd_row, sr_row = _create_records(ctx, host, row, device_config)
    try:
        drivers.run_for_pbd(ctx, "sr_create", pbd_row, sr_row, args=[str(physical_size)])
    except BaseException:
        _remove(ctx, ref)
        raise
    with ctx.store.write() as conn:
        store_mod.update(conn, "SR", ref, creating=False)
    for h in [host] + sorted(h for h in pbds if h != host):
        _attach_created(ctx, pbds[h])
    return ref


def _attach_created(ctx, pbd_ref: str) -> None:
    """Attach a PBD SR.create reserved; a failure leaves it detached and is logged, as xapi's create."""
    with ctx.store.read() as conn:
        pbd = store_mod.row(conn, "PBD", pbd_ref)
        sr = store_mod.row(conn, "SR", pbd["SR"])
    try:
        plug.attach_reserved(ctx, pbd, sr)
    except Exception as e:
        LOG.warning("SR.create: could not plug PBD %s (the SR exists; plug it again): %s", pbd_ref, e)


def _create_records(ctx, host: str, row: dict, device_config: dict):
    """Check the rules, insert the SR (marked creating) and its PBDs reserved; (PBDs by host, PBD row, SR row)."""
    with ctx.store.write() as conn:
        model.check_ref(conn, "host", host)
        _check_type(conn, row["type"])
        plug.check(conn, row["ref"], row["type"])
        store_mod.insert(conn, "SR", dict(row, creating=True))
        hosts = records.host_refs(conn) if row["shared"] else [host]
        pbds = {h: m_pbd.create_in(conn, h, row["ref"], device_config) for h in hosts}
        for pbd in pbds.values():
            plug.set_state(conn, pbd, plug.PLUGGING)
        return pbds, store_mod.row(conn, "PBD", pbds[host]), store_mod.row(conn, "SR", row["ref"])


@method("SR.introduce", "uuid:str", "name_label:str", "name_description:str", "type:str",
        "content_type:str", "shared:bool", "sm_config:map")
def introduce(ctx, session, uuid, name_label, name_description, type, content_type, shared, sm_config) -> str:
    """Record an existing SR (no PBDs; create and plug them to use it)."""
    ref = store_mod.new_ref()
    with ctx.store.write() as conn:
        _check_type(conn, type)
        uuid = uuid or store_mod.new_uuid()
        if records.sr_uuid_taken(conn, uuid):
            raise XenAPIError(errors.SR_UUID_EXISTS, uuid)  # xapi_sr.ml introduce
        store_mod.insert(conn, "SR", _sr_row(ref, uuid, name_label, name_description, type,
                                             content_type, shared, sm_config))
    return ref


def _check_detached(conn, sr):
    if model.check_ref(conn, "SR", sr)["creating"]:
        raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "SR %s is being created" % sr)
    plug.check_not_statefile_sr(conn, sr)
    if records.sr_has_pbd_not_detached(conn, sr):
        raise XenAPIError(errors.SR_HAS_PBD, sr)  # xapi_sr.ml check_no_pbds_attached


def _remove(ctx, sr):
    with ctx.store.write() as conn:
        _remove_in(conn, sr)


def _remove_in(conn, sr):
    records.delete_sr_children(conn, sr)
    store_mod.delete(conn, "SR", sr)


@method("SR.forget", "sr:ref:SR")
def forget(ctx, session, sr) -> str:
    """Forget an SR with every PBD detached; its storage is untouched.

    The check and the delete are one write transaction: no plug can
    reserve a PBD of the SR in between.
    """
    with ctx.store.write() as conn:
        _check_detached(conn, sr)
        _remove_in(conn, sr)
    return ""


@method("SR.destroy", "sr:ref:SR")
def destroy(ctx, session, sr) -> str:
    """Delete an SR's storage (driver ``sr_delete``) and forget it.

    ``sr_delete`` mounts the SR to look for VDIs, so the plug rule applies
    first (INCOMPATIBLE_CLUSTER_STACK_ACTIVE).  The PBDs are marked
    ``destroying`` in the check's transaction, so they count as attached
    and no plug reserves one while ``sr_delete`` runs; a failing
    ``sr_delete`` puts them back to ``detached``.
    """
    with ctx.store.write() as conn:
        _check_detached(conn, sr)
        pbds = records.pbds_master_first(conn, sr)
        if not pbds:
            raise XenAPIError(errors.SR_NO_PBDS, sr)
        sr_row = store_mod.row(conn, "SR", sr)
        plug.check(conn, sr, sr_row["type"])
        _mark_pbds(conn, sr, plug.DETACHED, plug.DESTROYING)
    try:
        drivers.run_for_pbd(ctx, "sr_delete", pbds[0], sr_row)
    except BaseException:
        with ctx.store.write() as conn:
            _mark_pbds(conn, sr, plug.DESTROYING, plug.DETACHED)
        raise
    _remove(ctx, sr)
    return ""


def _mark_pbds(conn, sr: str, was: str, now: str) -> None:
    for pbd in records.pbd_refs_in(conn, sr, was):
        plug.set_state(conn, pbd, now, was)


@method("SR.set_name_label", "sr:ref:SR", "value:str")
def set_name_label(ctx, session, sr, value) -> str:
    """Rename an SR."""
    return context.set_fields(ctx, "SR", sr, name_label=value)


@method("SR.update", "sr:ref:SR")
def update(ctx, session, sr) -> str:
    """Refresh an SR's sizes: its driver's ``sr_update`` on the master's attached PBD.

    The driver reports the sizes back with SR.set_physical_size and
    SR.set_physical_utilisation, as upstream drivers do.
    """
    return _run_on_attached(ctx, sr, "sr_update")


@method("SR.scan", "sr:ref:SR")
def scan(ctx, session, sr) -> str:
    """The driver's ``sr_scan`` on the master's attached PBD of the SR (``xapi_sr.ml`` ``scan``)."""
    return _run_on_attached(ctx, sr, "sr_scan")


def _run_on_attached(ctx, sr: str, command: str) -> str:
    """Run the driver's ``command`` on the master's attached PBD of ``sr`` (SR_NO_PBDS if none is)."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "SR", sr)
        pbd = records.attached_pbd(conn, sr)
        if pbd is None:
            raise XenAPIError(errors.SR_NO_PBDS, sr)
        sr_row = store_mod.row(conn, "SR", sr)
    drivers.run_for_pbd(ctx, command, pbd, sr_row)
    return ""


@method("SR.probe", "host:ref:host", "device_config:map", "type:str", "sm_config:map")
def probe(ctx, session, host, device_config, type, sm_config) -> str:
    """The driver's ``sr_probe`` answer (an XML document of the SRs it finds; ``xapi_sr.ml`` ``probe``)."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "host", host)
    answer = drivers.run(ctx, type, "sr_probe", {"host_ref": host, "device_config": dict(device_config),
                                                 "sr_sm_config": dict(sm_config), "args": []})
    return answer if isinstance(answer, str) else ""


def _set_size(ctx, sr, field, value) -> str:
    size = int(value)
    if size < 0:
        raise XenAPIError(errors.INVALID_VALUE, field, str(value))
    return context.set_fields(ctx, "SR", sr, **{field: size})


@method("SR.set_physical_size", "self:ref:SR", "value:int")
def set_physical_size(ctx, session, self, value) -> str:
    """Record the SR's size in bytes (called by its driver)."""
    return _set_size(ctx, self, "physical_size", value)


@method("SR.set_physical_utilisation", "self:ref:SR", "value:int")
def set_physical_utilisation(ctx, session, self, value) -> str:
    """Record the bytes the SR uses (called by its driver)."""
    return _set_size(ctx, self, "physical_utilisation", value)
