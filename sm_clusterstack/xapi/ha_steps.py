"""The steps of enable_ha/disable_ha that touch drivers and stack scripts.

Each step first records in the plan what a rollback will have to undo,
then does it, so a crash between the two leaves at worst an undo of
something that did not happen (detach, stop and delete are idempotent).
"""

import logging
import os
import re
import typing

from sm_clusterstack import errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import scripts, xhadconf
from sm_clusterstack.xapi import context, drivers
from sm_clusterstack.xapi import store as store_mod
from sm_clusterstack.xmlsafe import XMLFormatError

LOG = logging.getLogger("sm_clusterstack.xapi")
HA_BLOCK = 4096  # bytes: the statefile's global section, and one per host
STATEFILE_SIZE = -(-(HA_BLOCK + 64 * HA_BLOCK) // (4 << 20)) * (4 << 20)  # rounded up to 4 MiB
_PARAMETER = re.compile(r"[0-9]{1,9}\Z")  # ASCII digits only: "²".isdigit() is True, int("²") fails
VDI_CREATE_TAIL = ["", "false", "19700101T00:00:00Z", store_mod.NULL_REF, "false"]


def read_plan(ctx) -> typing.Optional[dict]:
    """The enable_ha plan in progress, or None."""
    with ctx.store.read() as conn:
        return store_mod.loads(context.pool_row(conn)["ha_plan"])


def _record(ctx, change: typing.Callable[[dict], None]) -> dict:
    with ctx.store.write() as conn:
        pool = context.pool_row(conn)
        plan = store_mod.loads(pool["ha_plan"])
        change(plan)
        store_mod.update(conn, "pool", pool["ref"], ha_plan=plan)
    return plan


def _pbd(conn, host: str, sr: str):
    return conn.execute("SELECT * FROM PBD WHERE host = ? AND SR = ?", (host, sr)).fetchone()


def _hosts(conn) -> typing.List[typing.Any]:
    return conn.execute("SELECT * FROM host ORDER BY host.ref = ? DESC, ref", (context.master(conn),)).fetchall()


def _new_statefile_record(ctx) -> typing.Tuple[str, typing.Any, typing.List[typing.Any]]:
    """Record the statefile VDI (no location yet) in the store and the plan; (vdi, SR row, hosts)."""
    vdi = store_mod.new_ref()
    with ctx.store.write() as conn:
        pool = context.pool_row(conn)
        plan = store_mod.loads(pool["ha_plan"])
        store_mod.insert(conn, "VDI", {
            "ref": vdi, "uuid": store_mod.new_uuid(), "SR": plan["heartbeat_sr"],
            "name_label": "Statefile for HA", "type": "ha_statefile", "virtual_size": STATEFILE_SIZE,
            "sm_config": {"type": "raw"}})
        plan["statefiles"] = [vdi]
        store_mod.update(conn, "pool", pool["ref"], ha_plan=plan)
        return vdi, store_mod.row(conn, "SR", plan["heartbeat_sr"]), _hosts(conn)


def statefile(ctx) -> None:
    """Create the statefile VDI on the heartbeat SR and attach it on every host."""
    vdi, sr, hosts = _new_statefile_record(ctx)
    with ctx.store.read() as conn:
        master_pbd = _pbd(conn, hosts[0]["ref"], sr["ref"])
    answer = drivers.run_for_pbd(ctx, "vdi_create", master_pbd, sr,
                                 args=[str(STATEFILE_SIZE), "Statefile for HA", ""] + VDI_CREATE_TAIL,
                                 extra={"vdi_sm_config": {"type": "raw"}, "vdi_type": "ha_statefile"})
    _record_created(ctx, vdi, answer)
    paths = {}
    for host in hosts:
        _record(ctx, lambda p: p["attached_on"].setdefault(vdi, []).append(host["ref"]))
        paths[host["ref"]] = _attach(ctx, vdi, host["ref"], sr)
    _record(ctx, lambda p: p.update(paths=paths))


def _record_created(ctx, vdi: str, answer: typing.Any) -> None:
    if not (isinstance(answer, dict) and isinstance(answer.get("location"), str) and answer["location"]):
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "vdi_create answered no location",
                          repr(answer)[:1024], "")
    with ctx.store.write() as conn:
        values = {"location": answer["location"]}
        uuid = answer.get("uuid")
        if isinstance(uuid, str) and not conn.execute("SELECT 1 FROM VDI WHERE uuid = ?", (uuid,)).fetchone():
            values["uuid"] = uuid
        store_mod.update(conn, "VDI", vdi, **values)


def _vdi_params(vdi_row) -> dict:
    return {"vdi_ref": vdi_row["ref"], "vdi_uuid": vdi_row["uuid"], "vdi_location": vdi_row["location"],
            "vdi_sm_config": store_mod.loads(vdi_row["sm_config"]) or {}}


def _attach(ctx, vdi: str, host: str, sr) -> str:
    with ctx.store.read() as conn:
        vdi_row, pbd = store_mod.row(conn, "VDI", vdi), _pbd(conn, host, sr["ref"])
    answer = drivers.run_for_pbd(ctx, "vdi_attach", pbd, sr, args=["true"], extra=_vdi_params(vdi_row))
    if not (isinstance(answer, dict) and isinstance(answer.get("params"), str) and answer["params"]):
        raise XenAPIError(errors.SR_BACKEND_FAILURE_PREFIX, "vdi_attach answered no params",
                          repr(answer)[:1024], "")
    return answer["params"]


def release_statefiles(ctx, vdis: typing.List[str], attached_on: typing.Dict[str, typing.List[str]],
                       best_effort: bool = False) -> None:
    """Detach the statefile VDIs where attached, delete them, forget them.

    A VDI the driver says is missing counts as deleted (a crash may have
    come between its vdi_delete and the row's delete).  ``best_effort``
    (a rollback): a failing detach is logged and the delete still tried.
    The row goes only once the VDI is deleted.
    """
    for vdi in vdis:
        with ctx.store.read() as conn:
            vdi_row = store_mod.row(conn, "VDI", vdi)
            if vdi_row is None:
                continue
            sr = store_mod.row(conn, "SR", vdi_row["SR"])
            pbds = [_pbd(conn, h, sr["ref"]) for h in attached_on.get(vdi, [])]
            master_pbd = _pbd(conn, context.master(conn), sr["ref"])
        if vdi_row["location"]:
            for pbd in pbds:
                _detach_statefile(ctx, pbd, sr, vdi_row, best_effort)
            _delete_statefile(ctx, master_pbd, sr, vdi_row)
        with ctx.store.write() as conn:
            store_mod.delete(conn, "VDI", vdi)


def _detach_statefile(ctx, pbd, sr, vdi_row, best_effort: bool) -> None:
    try:
        drivers.run_for_pbd(ctx, "vdi_detach", pbd, sr, extra=_vdi_params(vdi_row))
    except Exception as e:
        if not best_effort:
            raise
        LOG.warning("HA rollback: vdi_detach of %s on %s failed: %s", vdi_row["ref"], pbd["host"], e)


def _delete_statefile(ctx, pbd, sr, vdi_row) -> None:
    try:
        drivers.run_for_pbd(ctx, "vdi_delete", pbd, sr, extra=_vdi_params(vdi_row))
    except XenAPIError as e:
        if e.code != errors.VDI_MISSING:
            raise
        LOG.warning("statefile %s was already deleted", vdi_row["ref"])


def conf_path(ctx, host_uuid: str) -> str:
    """Where the xhad.conf of a host is written."""
    return os.path.join(ctx.state_dir, "ha", host_uuid, "xhad.conf")


def write_confs(ctx, plan: dict, hosts: typing.List[typing.Any]) -> typing.Dict[str, str]:
    """Write xhad.conf for every host; their paths by host ref."""
    members = [xhadconf.Host(h["uuid"], h["address"]) for h in hosts]
    params = parameters(plan["configuration"])
    written = {}
    for host in hosts:
        try:
            data = xhadconf.XhadConfig(plan["generation"], members, host["uuid"], plan["paths"][host["ref"]],
                                       parameters=params).to_xml()
        except XMLFormatError as e:
            raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
        path = conf_path(ctx, host["uuid"])
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
        written[host["ref"]] = path
    return written


def parameters(configuration: typing.Dict[str, str]) -> typing.Dict[str, int]:
    """xhad.conf parameters from enable_ha's configuration (known names, digits only)."""
    params = {}
    for key, value in configuration.items():
        name = {"timeout": "HeartbeatTimeout"}.get(key, key)
        if name in xhadconf.PARAMETERS:
            if not isinstance(value, str) or not _PARAMETER.match(value):
                raise XenAPIError(errors.INVALID_VALUE, key, value)
            params[name] = int(value)
    if "timeout" in configuration:
        params.setdefault("StateFileTimeout", params["HeartbeatTimeout"])
    return params


def start_hosts(ctx) -> None:
    """Write every host's xhad.conf, init the pool state on each, then start each daemon."""
    plan = read_plan(ctx)
    with ctx.store.read() as conn:
        hosts = _hosts(conn)
    confs = write_confs(ctx, plan, hosts)
    for host in hosts:
        run_on_host(ctx, host["ref"], plan["stack"], "ha_set_pool_state", ["init", "-C", confs[host["ref"]]])
    for host in hosts:
        _record(ctx, lambda p: p["hosts_started"].append(host["ref"]))
        run_on_host(ctx, host["ref"], plan["stack"], "ha_start_daemon", ["-C", confs[host["ref"]]])


def run_on_host(ctx, host: str, stack: str, script: str, args: typing.List[str]) -> None:
    """Run ``script`` of ``stack`` for ``host`` (with its exec-prefix); XenAPI errors on failure."""
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "host", host)
    try:
        scripts.run_script(stacks.stack_dir(ctx.stack_root, stack), script, args,
                           timeout=ctx.script_timeout, exec_prefix=context.exec_prefix(row))
    except scripts.StackScriptError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, script, e.mtc_name, row["uuid"],
                          e.stderr.strip()[-1024:])
    except stacks.StackError as e:
        raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
