"""One log line per XenAPI call the shim answers: method, user, duration, result code.

Logger ``sm_clusterstack.xapi.calls`` (``serve`` sends it to its log file and
syslog): ``call SR.create user=root 812ms SUCCESS`` (``call SR.create
(JSON-RPC) user=...`` when it came as JSON-RPC) or, for a failure, the
code and its params exactly as answered, then, for the errors about cluster
stacks, what is in the way and what to do (``sm_clusterstack.explain``,
from the store as it is after the call).  A call's parameters are never
logged (a login carries a password); the user of a login is its first one.
Logging never fails a call.
"""

import logging
import time
import typing

from sm_clusterstack import explain
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi.calls")
MAX_LOGGED = 512  # characters of an error's params


class Entry(object):
    """A call being answered: what its log line needs."""

    __slots__ = ("ctx", "method", "params", "user", "started", "label")

    def __init__(self, ctx, method, params, user, started, transport=""):
        self.ctx, self.method, self.params, self.user, self.started = ctx, method, params, user, started
        self.label = method + (" (%s)" % transport if transport else "")  # what the log line names


def begin(ctx: typing.Any, name: typing.Any, params: tuple, transport: str = "") -> typing.Optional[Entry]:
    """Note a call as it arrives (its user, read before a logout ends the session); None when not logging.

    ``transport``: "JSON-RPC" when the call came so (XML-RPC says nothing).
    """
    try:
        if not LOG.isEnabledFor(logging.INFO):
            return None
        method = str(name)[:256]
        return Entry(ctx, method, params, _user(ctx, method, params), time.monotonic(), transport)
    except Exception:  # a log line must never cost a call its answer
        return None


def end(entry: typing.Optional[Entry], response: dict) -> None:
    """Log the call ``entry`` that got ``response``."""
    if entry is None:
        return
    try:
        _log(entry, response, (time.monotonic() - entry.started) * 1000)
    except Exception:  # a log line must never cost a call its answer
        LOG.debug("could not log a call", exc_info=True)


def _log(entry: Entry, response: dict, ms: float) -> None:
    if response.get("Status") == "Success":
        LOG.info("call %s user=%s %dms SUCCESS", entry.label, entry.user, ms)
        return
    description = [str(d) for d in response.get("ErrorDescription", [])] or ["?"]
    LOG.info("call %s user=%s %dms %s %s", entry.label, entry.user, ms, description[0],
             ", ".join(description[1:])[:MAX_LOGGED])
    for line in explain_failure(entry.ctx, description, _request(entry.method, entry.params)):
        LOG.info("call %s: %s", entry.method, line)


def _user(ctx, method: str, params: tuple) -> str:
    if method == "session.login_with_password":
        return str(params[0])[:64] if params else "?"
    session = params[0] if params else None
    if not isinstance(session, str):
        return "-"
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "session", session)
    row = row if row is not None else ctx.sessions.in_memory(session)
    if row is None:
        return "-"
    return row["this_user"] + ("(internal)" if row["internal"] else "")


def _request(method: str, params: tuple) -> dict:
    """What an explanation may read of enable_ha's params (SR refs and the stack name, never secrets)."""
    if not method.endswith("pool.enable_ha") or len(params) < 2 or not isinstance(params[1], list):
        return {}
    request = {"heartbeat_srs": [str(r) for r in params[1]]}
    if len(params) > 3 and isinstance(params[3], str):
        request["cluster_stack"] = params[3]
    return request


def explain_failure(ctx, description: typing.List[str], request: typing.Optional[dict] = None) -> typing.List[str]:
    """``Why:``/``Next:`` lines for a failure about cluster stacks, from the pool in the store."""
    if description[0] not in explain.CODES:
        return []
    return explain.explain(description[0], description[1:], snapshot(ctx), request)


def snapshot(ctx) -> explain.PoolView:
    """What the explanations read: SRs (stacks, sizes, PBDs), hosts, HA state, installed stacks."""
    from sm_clusterstack import stacks
    with ctx.store.read() as conn:
        pool = records.pool_row(conn)
        srs = records.srs_with_stacks(conn)
        attached = records.srs_not_detached(conn)
        pbds = {r[0]: [(p["host"], p["state"] == "attached", p["uuid"]) for p in records.pbds_master_first(conn, r[0])]
                for r in srs}
        hosts = {h["ref"]: h["name_label"] for h in records.hosts_master_first(conn)}
        features = {r[3]: list(records.sm_features(conn, r[3])) for r in srs}
    views = [explain.SRView(r[0], r[1], r[2], r[3], store_mod.loads(r[4]) if r[4] else [], r[0] in attached,
                            size=r[5], used=r[6], pbds=pbds[r[0]], features=features[r[3]]) for r in srs]
    try:
        installed = {name: stacks.supported_srs(ctx.stack_root, name)
                     for name in stacks.installed_stacks(ctx.stack_root)}
    except Exception:  # an unreadable root: the explanation says it does not know
        installed = None
    return explain.PoolView(views, bool(pool[0]), pool[1], installed, ctx.default_stack, hosts)
