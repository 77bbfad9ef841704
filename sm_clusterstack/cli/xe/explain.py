"""The ``Why:``/``Next:`` lines xe adds after an error about cluster stacks.

The pool is read through XenAPI after the error (pool, SR, SM, PBD and
host records: six calls whatever the pool's size); the installed stacks come
from the shim's ``pool.get_cluster_stack_info`` when the server has it (a
real xapi does not, and the lines then leave them out).
"""

import typing

from sm_clusterstack import explain


def view(api: typing.Any) -> explain.PoolView:
    """The PoolView of the pool ``api`` reaches."""
    pools = api.pool.get_all_records()
    pool_ref, pool = sorted(pools.items())[0]
    sms = api.SM.get_all_records().values()
    required = {sm["type"]: list(sm.get("required_cluster_stack", [])) for sm in sms}
    features = {sm["type"]: list(sm.get("features") or {}) for sm in sms}
    pbds = {}  # SR ref -> [(host, attached, PBD uuid)]
    for pbd in api.PBD.get_all_records().values():
        pbds.setdefault(pbd["SR"], []).append((pbd["host"], bool(pbd.get("currently_attached")), pbd["uuid"]))
    srs = [explain.SRView(ref, sr["uuid"], sr.get("name_label", ""), sr["type"], required.get(sr["type"], []),
                          any(p[1] for p in pbds.get(ref, [])), size=_int(sr.get("physical_size")),
                          used=_int(sr.get("physical_utilisation")) or 0, pbds=pbds.get(ref, []),
                          features=features.get(sr["type"]))
           for ref, sr in sorted(api.SR.get_all_records().items())]
    hosts = {ref: host.get("name_label", ref) for ref, host in sorted(api.host.get_all_records().items())}
    installed, default = None, None
    try:
        info = api.pool.get_cluster_stack_info(pool_ref)
        default = info.get("default")
        installed = {name: (None if value == "any" else value.split())
                     for name, value in info.get("stacks", {}).items()}
    except Exception:  # a real xapi: MESSAGE_METHOD_UNKNOWN
        pass
    return explain.PoolView(srs, bool(pool.get("ha_enabled")), pool.get("ha_cluster_stack", ""), installed, default,
                            hosts)


def _int(value: typing.Any) -> typing.Optional[int]:
    """An int64 field as XenAPI sends it (a string); None when absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def lines(api: typing.Any, lookup: typing.Any, details: typing.List[str],
          request: typing.Optional[dict] = None) -> str:
    """The explanation of ``details`` (code and params) as text, or ""."""
    if details[0] not in explain.CODES:
        return ""
    try:
        found = explain.explain(details[0], details[1:], view(api), request)
    except Exception:  # the explanation is a help: never let it hide the error itself
        return ""
    return "".join(line + "\n" for line in found)
