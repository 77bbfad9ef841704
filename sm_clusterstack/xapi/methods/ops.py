"""Methods the xe commands need that no other method module provides.

``SR.probe`` and ``SR.scan`` run the driver's ``sr_probe`` / ``sr_scan`` as
xapi does (``xapi_sr.ml`` ``probe``, ``scan``);
``pool.get_cluster_stack_info``
is the shim's own (not in xapi): the installed stacks with their
``ha_supported_srs`` ("any" when a stack has none) and the default stack,
for the CLI's explanations and ``ha preflight``.
"""

from sm_clusterstack import errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.hosts import drivers
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.rpc.registry import method


@method("SR.probe", "host:ref:host", "device_config:map", "type:str", "sm_config:map")
def probe(ctx, session, host, device_config, type, sm_config) -> str:
    """The driver's ``sr_probe`` answer (an XML document of the SRs it finds)."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "host", host)
    answer = drivers.run(ctx, type, "sr_probe", {"host_ref": host, "device_config": dict(device_config),
                                                 "sr_sm_config": dict(sm_config), "args": []})
    return answer if isinstance(answer, str) else ""


@method("SR.scan", "sr:ref:SR")
def scan(ctx, session, sr) -> str:
    """The driver's ``sr_scan`` on the master's attached PBD of the SR."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "SR", sr)
        pbd = conn.execute("SELECT * FROM PBD WHERE SR = ? AND state = 'attached' ORDER BY host = ? DESC, ref",
                           (sr, context.master(conn))).fetchone()
        if pbd is None:
            raise XenAPIError(errors.SR_NO_PBDS, sr)
        sr_row = store_mod.row(conn, "SR", sr)
    drivers.run_for_pbd(ctx, "sr_scan", pbd, sr_row)
    return ""


@method("pool.get_cluster_stack_info", "self:ref:pool")
def get_cluster_stack_info(ctx, session, self) -> dict:
    """(shim only) {"default": stack, "stacks": {name: "type type..." or "any", or "error: ..."}}."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "pool", self)
    found = {}
    for name in stacks.installed_stacks(ctx.stack_root):
        try:
            supported = stacks.supported_srs(ctx.stack_root, name)
        except stacks.StackError as e:
            found[name] = "error: %s" % e
            continue
        found[name] = "any" if supported is None else " ".join(supported)
    return {"default": ctx.default_stack, "stacks": found}
