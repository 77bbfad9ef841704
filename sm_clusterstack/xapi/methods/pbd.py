"""PBD.*: create, plug, unplug, destroy (the readers are generated)."""

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records


@method("PBD.create", "args:record")
def create(ctx, session, args) -> str:
    """A new PBD joining ``args["host"]`` and ``args["SR"]`` (detached)."""
    for name, kind in (("host", "ref:host"), ("SR", "ref:SR"), ("device_config", "map"),
                       ("other_config", "map")):
        if name in args:
            api.check_type(name, kind, args[name])
        elif name in ("host", "SR"):
            raise XenAPIError(errors.FIELD_TYPE_ERROR, name)
    with ctx.store.write() as conn:
        return create_in(conn, args["host"], args["SR"], args.get("device_config", {}),
                         args.get("other_config", {}))


def create_in(conn, host: str, sr: str, device_config: dict, other_config: dict = None) -> str:
    """Insert a detached PBD (PBD_EXISTS if the host already has one for the SR)."""
    model.check_ref(conn, "host", host)
    sr_row = model.check_ref(conn, "SR", sr)
    if records.sr_has_pbd_in(conn, sr, plug.DESTROYING):
        raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "SR %s is being destroyed" % sr)
    existing = records.pbd_of(conn, host, sr)
    if existing is not None:
        raise XenAPIError(errors.PBD_EXISTS, host, sr, existing["ref"])
    ref = store_mod.new_ref()
    store_mod.insert(conn, "PBD", {
        "ref": ref, "uuid": store_mod.new_uuid(), "host": host, "SR": sr, "sr_type": sr_row["type"],
        "device_config": dict(device_config), "other_config": dict(other_config or {}),
        "state": plug.DETACHED})
    return ref


@method("PBD.plug", "self:ref:PBD")
def plug_pbd(ctx, session, self) -> str:
    """Attach the PBD's SR on its host."""
    plug.plug(ctx, self)
    return ""


@method("PBD.unplug", "self:ref:PBD")
def unplug_pbd(ctx, session, self) -> str:
    """Detach the PBD's SR on its host."""
    plug.unplug(ctx, self)
    return ""


@method("PBD.destroy", "self:ref:PBD")
def destroy(ctx, session, self) -> str:
    """Remove a detached PBD."""
    with ctx.store.write() as conn:
        row = model.check_ref(conn, "PBD", self)
        if row["state"] != plug.DETACHED:
            raise XenAPIError(errors.OPERATION_NOT_ALLOWED, "PBD %s is %s" % (self, row["state"]))
        store_mod.delete(conn, "PBD", self)
    return ""


@method("PBD.set_device_config", "self:ref:PBD", "value:map")
def set_device_config(ctx, session, self, value) -> str:
    """Replace the device_config of a PBD."""
    with ctx.store.write() as conn:
        model.check_ref(conn, "PBD", self)
        store_mod.update(conn, "PBD", self, device_config=dict(value))
    return ""
