"""The data and the tables of ``sm-clusterstack ha status`` and ``ha preflight``.

``gather`` reads the pool (pool, host and host_metrics records and, from
the shim, every host's liveset and which HA monitors stopped) into plain
data, the ``--json`` output; ``table`` renders it one row per host, then
a line per host whose monitoring stopped.  A host's liveset entry is read
with the project's liveset model (xapi's parse rules).
"""

import typing

from sm_clusterstack.cli.xe.records import Lookup
from sm_clusterstack.emulation.pool import OTHER_CONFIG_KEY as EMULATION_KEY

NO = "-"
LIVESET_WIDTH = 40  # the LIVESET column; a longer text (a host's failure) follows the table whole


def _livesets(api, pool_ref: str, pool: dict) -> typing.Optional[typing.Dict[str, typing.Any]]:
    """{host ref: Liveset or error text}, None when the server has no livesets to give."""
    from sm_clusterstack.stacks import liveset
    from sm_clusterstack.xmlsafe import XMLFormatError
    if not pool.get("ha_enabled"):
        return None
    try:
        raw = api.pool.get_ha_livesets(pool_ref)
    except Exception:  # a real xapi: MESSAGE_METHOD_UNKNOWN
        return None
    parsed = {}
    for host, text in raw.items():
        if text.startswith("error: "):
            parsed[host] = text[len("error: "):]
            continue
        try:
            parsed[host] = liveset.parse(text)
        except XMLFormatError as e:
            parsed[host] = "unreadable liveset: %s" % e
    return parsed


def _monitors(api, pool_ref: str, pool: dict) -> typing.Dict[str, str]:
    """{host ref: why its HA monitor stopped} of the hosts whose monitoring stopped ({} from a real xapi)."""
    if not pool.get("ha_enabled"):
        return {}
    try:
        found = api.pool.get_ha_monitors(pool_ref)
    except Exception:  # a real xapi: MESSAGE_METHOD_UNKNOWN
        return {}
    return {host: text for host, text in found.items() if text}


def _entry(found: typing.Any, uuid: str) -> typing.Any:
    if isinstance(found, str):
        return None
    try:
        return found.host(uuid)
    except KeyError:
        return None


def _row(ref: str, host: dict, pool: dict, metrics: dict, livesets) -> dict:
    uuid = host["uuid"]
    row = {"uuid": uuid, "name": host.get("name_label", ""), "address": host.get("address", ""),
           "master": ref == pool.get("master"),
           "xapi_live": metrics.get(host.get("metrics", ""), {}).get("live")}
    if livesets is None:
        return row
    own = livesets.get(ref)
    master_view = _entry(livesets.get(pool.get("master")), uuid)
    entries = [_entry(found, uuid) for found in livesets.values() if not isinstance(found, str)]
    me = _entry(own, uuid)
    row.update({
        "live": master_view.liveness if master_view is not None else None,
        "seen_live_by": sum(1 for e in entries if e is not None and e.liveness),
        "livesets_read": len(entries),
        "liveset": own if isinstance(own, str) else own.status,
        "statefile_access": me.statefile_access if me is not None else None,
        "statefile_corrupted": me.statefile_corrupted if me is not None else None,
        "excluded": me.excluded if me is not None else None,
        "warnings": sorted(k for k, v in own.warnings.items() if v) if not isinstance(own, str) else [],
        "latency_ms": ({k: own.raw_status[k] for k in ("heartbeat_latency", "statefile_latency")
                        if k in own.raw_status} if not isinstance(own, str) else {}),
        "notes": dict(own.notes) if not isinstance(own, str) else {},  # the stack's word: no kernel watchdog...
    })
    return row


def gather(api: typing.Any) -> dict:
    """The pool's HA state as plain data (the ``--json`` output)."""
    pool_ref, pool = sorted(api.pool.get_all_records().items())[0]
    hosts = api.host.get_all_records()
    try:
        metrics = api.host_metrics.get_all_records()
    except Exception:  # a server without host_metrics
        metrics = {}
    livesets = _livesets(api, pool_ref, pool)
    monitors = _monitors(api, pool_ref, pool)
    master = hosts.get(pool.get("master"), {})
    rows = [dict(_row(ref, host, pool, metrics, livesets), **({"monitor": monitors[ref]} if ref in monitors else {}))
            for ref, host in sorted(hosts.items(), key=lambda kv: kv[1].get("name_label", ""))]
    return {"pool": {"uuid": pool["uuid"], "ha_enabled": bool(pool.get("ha_enabled")),
                     "ha_cluster_stack": pool.get("ha_cluster_stack", ""), "master": master.get("uuid", ""),
                     "livesets": livesets is not None,
                     "storage_emulation": (pool.get("other_config") or {}).get(EMULATION_KEY, "")},
            "hosts": rows}


def _flag(value: typing.Any) -> str:
    if value is None:
        return "?"
    return "yes" if value else "no"


def _columns(row: dict) -> typing.List[str]:
    seen = "%d/%d" % (row["seen_live_by"], row["livesets_read"]) if "seen_live_by" in row else "?"
    latency = row.get("latency_ms") or {}
    return [row["name"], row["uuid"], "yes" if row["master"] else NO, _flag(row.get("live")),
            _flag(row["xapi_live"]), seen, str(row.get("liveset", "?"))[:LIVESET_WIDTH],
            _flag(row.get("statefile_access")), _flag(row.get("excluded")), ",".join(row.get("warnings", [])) or NO,
            "/".join(str(latency[k]) for k in ("heartbeat_latency", "statefile_latency") if k in latency) or NO]


HEADER = ["HOST", "UUID", "MASTER", "LIVE", "XAPI-LIVE", "SEEN-LIVE", "LIVESET", "STATEFILE", "EXCLUDED",
          "WARNINGS", "LATENCY(HB/SF ms)"]


def render(header: typing.List[str], rows: typing.List[typing.List[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() + "\n" for r in [header] + rows)


def table(state: dict) -> str:
    """``ha status`` as a table."""
    pool = state["pool"]
    what = "enabled on cluster stack " + pool["ha_cluster_stack"] if pool["ha_enabled"] else "not enabled"
    unknown = "" if pool["livesets"] or not pool["ha_enabled"] else " (no livesets from this server: unknown)"
    head = "pool %s: HA %s%s\n" % (pool["uuid"], what, unknown)
    if pool.get("storage_emulation"):
        head += "storage: %s\n" % pool["storage_emulation"]
    notes = ["%s: %s\n" % (row["name"], row["liveset"]) for row in state["hosts"]
             if len(str(row.get("liveset", ""))) > LIVESET_WIDTH]  # a stack's reason, whole (a fencing host's)
    notes += ["%s: HA monitor %s\n" % (row["name"], row["monitor"]) for row in state["hosts"] if row.get("monitor")]
    notes += ["%s: %s\n" % (row["name"], text) for row in state["hosts"]
              for _, text in sorted(row.get("notes", {}).items())]
    return head + render(HEADER, [_columns(row) for row in state["hosts"]]) + "".join(notes)


def resolve(api: typing.Any, findings: typing.List[dict]) -> typing.List[dict]:
    """Findings with refs (host, params) shown as xe shows them: uuid (name-label)."""
    lookup = Lookup(api)
    for finding in findings:
        finding["object"] = lookup.convert(finding.get("object", ""))
        finding["params"] = [lookup.convert(p) for p in finding.get("params", [])]
    return findings


def findings_table(findings: typing.List[dict]) -> str:
    """``ha preflight`` as a table: check, the host or SR checked, result, code and params, detail."""
    rows = [[f["check"], f["object"] or NO, f["result"].upper(),
             (" ".join([f["code"]] + f["params"]) if f["code"] else NO)[:120], f["detail"] or NO]
            for f in findings]
    failed = sum(1 for f in findings if f["result"] == "fail")
    return render(["CHECK", "OBJECT", "RESULT", "CODE", "DETAIL"], rows) + (
        "%d checks: %d failed\n" % (len(findings), failed))
