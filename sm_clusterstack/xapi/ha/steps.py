"""The steps of enable_ha/disable_ha that touch storage and hosts' files.

The statefile and metadata VDIs are found or created on the heartbeat SR
(``xha_statefile.ml``/``xha_metadata_vdi.ml`` ``find_or_create``) and
attached on every host as static-vdis does (``static_vdis.ml``): the
driver's ``vdi_generate_config``, then the driver run on that host with
the config it wrote (``vdi_attach_from_config``), so the attach would
survive a reboot without xapi; an SM with only VDI_ATTACH_OFFLINE gets a
plain ``vdi_attach``.  A VDI enable_ha creates is recorded (uuid, no
location yet) before ``vdi_create`` runs and passed to the driver as
``vdi_uuid``, so a crash in between leaves a row that recovery can
reconcile.  Each step records in the plan what the disable path will have
to undo before doing it; every undo is idempotent.
"""

import logging
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xapi.hosts import drivers
from sm_clusterstack.xapi.ha import checks as ha_checks
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xmlsafe import XMLFormatError
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
CONF_PATH = xhadconf.DEFAULT_PATH
VDI_CREATE_TAIL = ["", "false", "19700101T00:00:00Z", store_mod.NULL_REF, "false"]
VDIS = ((ha_checks.STATEFILE_TYPE, ha_checks.STATEFILE_SIZE, "Statefile for HA", "Used for storage heartbeating"),
        (ha_checks.METADATA_TYPE, ha_checks.METADATA_SIZE, "Metadata for HA", "Used for master failover"))


def read_plan(ctx) -> typing.Optional[records.HAPlan]:
    """enable_ha's plan in progress, or None."""
    with ctx.store.read() as conn:
        return records.ha_plan(conn)


def record(ctx, change: typing.Callable[[records.HAPlan], None]) -> records.HAPlan:
    """Apply ``change`` to enable_ha's plan and store it, in one write."""
    with ctx.store.write() as conn:
        plan = records.ha_plan(conn)
        change(plan)
        records.set_ha_plan(conn, plan)
    return plan


def find_or_create_vdis(ctx, plan: records.HAPlan) -> None:
    """Make sure the plan's statefile and metadata VDIs exist, creating those it does not reuse."""
    for (vdi_type, size, name, description), key in zip(VDIS, ("statefile", "metadata")):
        if not getattr(plan, key):
            plan = _create_vdi(ctx, vdi_type, size, name, description, key)


def _create_vdi(ctx, vdi_type: str, size: int, name: str, description: str, key: str) -> records.HAPlan:
    vdi, uuid = store_mod.new_ref(), store_mod.new_uuid()
    with ctx.store.write() as conn:
        plan = records.ha_plan(conn)
        store_mod.insert(conn, "VDI", {
            "ref": vdi, "uuid": uuid, "SR": plan.heartbeat_sr, "name_label": name,
            "name_description": description, "type": vdi_type, "virtual_size": size,
            "sm_config": {"type": "raw"}, "sharable": True})
        setattr(plan, key, vdi)
        records.set_ha_plan(conn, plan)
        sr = store_mod.row(conn, "SR", plan.heartbeat_sr)
        master_pbd = records.pbd_of(conn, records.master(conn), plan.heartbeat_sr)
    answer = drivers.run_for_pbd(ctx, "vdi_create", master_pbd, sr,
                                 args=[str(size), name, description] + VDI_CREATE_TAIL,
                                 extra={"vdi_sm_config": {"type": "raw"}, "vdi_type": vdi_type, "vdi_uuid": uuid})
    _record_created(ctx, vdi, answer)
    return read_plan(ctx)


def _record_created(ctx, vdi: str, answer: typing.Any) -> None:
    if not (isinstance(answer, dict) and isinstance(answer.get("location"), str) and answer["location"]):
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "vdi_create answered no location",
                          repr(answer)[:1024], "")
    with ctx.store.write() as conn:
        values = {"location": answer["location"]}
        uuid = answer.get("uuid")
        if isinstance(uuid, str) and not records.vdi_uuid_taken(conn, uuid):
            values["uuid"] = uuid
        store_mod.update(conn, "VDI", vdi, **values)


def vdi_params(vdi_row) -> dict:
    """The vdi_* members of a driver call on ``vdi_row``."""
    return {"vdi_ref": vdi_row["ref"], "vdi_uuid": vdi_row["uuid"], "vdi_location": vdi_row["location"],
            "vdi_sm_config": store_mod.loads(vdi_row["sm_config"]) or {}}


def attach_on(ctx, host: str, vdi: str, in_plan: bool = True) -> str:
    """Attach ``vdi`` on ``host`` as static-vdis does; the path of the attached VDI there.

    ``in_plan``: first record in enable's plan that it is attached there (for the disable path).
    """
    if in_plan:
        record(ctx, lambda p: p.attached_on.setdefault(vdi, []).append(host)
               if host not in p.attached_on.get(vdi, []) else None)
    with ctx.store.read() as conn:
        vdi_row = store_mod.row(conn, "VDI", vdi)
        sr = store_mod.row(conn, "SR", vdi_row["SR"])
        pbd = records.pbd_of(conn, host, sr["ref"])
        features = records.sm_features(conn, sr["type"])
    if "VDI_GENERATE_CONFIG" in features:
        config = drivers.run_for_pbd(ctx, "vdi_generate_config", pbd, sr, extra=vdi_params(vdi_row))
        if not isinstance(config, str) or not config:
            raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "vdi_generate_config answered no config",
                              repr(config)[:1024], "")
        answer = drivers.run_from_config(ctx, sr["type"], host, config)
    else:
        answer = drivers.run_for_pbd(ctx, "vdi_attach", pbd, sr, args=["true"], extra=vdi_params(vdi_row))
    return _attached_path(answer, "vdi_attach")


def _attached_path(answer: typing.Any, command: str) -> str:
    if isinstance(answer, dict):
        answer = answer.get("params")
    if not isinstance(answer, str) or not answer:
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "%s answered no path" % command, repr(answer)[:1024], "")
    return answer


def detach_on(ctx, host: str, vdi: str, best_effort: bool = False) -> None:
    """Detach ``vdi`` on ``host`` (release, keep the VDI); a failure raises unless ``best_effort``."""
    with ctx.store.read() as conn:
        vdi_row = store_mod.row(conn, "VDI", vdi)
        if vdi_row is None or not vdi_row["location"]:
            return
        sr = store_mod.row(conn, "SR", vdi_row["SR"])
        pbd = records.pbd_of(conn, host, sr["ref"]) if sr is not None else None
    if pbd is None:
        return
    try:
        drivers.run_for_pbd(ctx, "vdi_detach", pbd, sr, extra=vdi_params(vdi_row))
    except XenAPIError as e:
        if not best_effort:
            raise
        LOG.warning("HA: vdi_detach of %s on %s failed: %s", vdi, host, e)


def write_conf(ctx, plan: records.HAPlan, host_row, statefile_path: str) -> None:
    """Write ``/etc/xensource/xhad.conf`` on that host, as ``xapi_ha.ml`` ``write_config_file``."""
    with ctx.store.read() as conn:
        members = [xhadconf.Host(h["uuid"], h["address"])
                   for h in records.hosts_in_database_order(conn)]
        pif = records.management_pif(conn, host_row["ref"])
    try:
        data = xhadconf.XhadConfig(
            plan.generation, members, host_row["uuid"], statefile_path,
            parameters=xhadconf.derive_timeouts(plan.timeout),
            heartbeat_interface=pif["bridge"], heartbeat_physical_interface=pif["device"]).to_xml()
    except (XMLFormatError, ValueError) as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
    onhost.write_file(ctx, host_row["ref"], CONF_PATH, data, mode=0o644)


def forget_unfinished_vdis(ctx) -> int:
    """Remove the HA VDIs a crash or a failed ``vdi_create`` left between their record and its answer.

    Such a row has no location; the driver was given its uuid, so the VDI
    (if it was made) is deleted by that uuid; the row goes either way.
    """
    with ctx.store.read() as conn:
        rows = records.unlocated_vdis(conn, (ha_checks.STATEFILE_TYPE, ha_checks.METADATA_TYPE))
        targets = [(row, store_mod.row(conn, "SR", row["SR"]), records.pbd_of(conn, records.master(conn), row["SR"]))
                   for row in rows]
    for row, sr, pbd in targets:
        if sr is not None and pbd is not None:
            params = dict(vdi_params(row), vdi_location=row["uuid"])
            try:
                drivers.run_for_pbd(ctx, "vdi_delete", pbd, sr, extra=params)
            except XenAPIError as e:
                if e.code != errors.VDI_MISSING:
                    LOG.warning("HA VDI %s left by a crash: vdi_delete failed: %s", row["uuid"], e)
        with ctx.store.write() as conn:
            store_mod.delete(conn, "VDI", row["ref"])
    return len(targets)
