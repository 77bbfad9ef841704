"""What ``sm-clusterstack ha status`` and ``ha preflight`` ask the shim (methods of the shim, not of xapi).

``pool.get_ha_livesets(pool)``: ``ha_query_liveset`` of the pool's HA stack
run on every host at once, as xapi's monitor runs it (in the host's
sandbox, PATH only): ``{host ref: the XML printed}``, or for a host where it
failed ``"error: CODE params"``.  HA_NOT_ENABLED when HA is off.

``pool.get_ha_monitors(pool)``: ``{host ref: ""}`` for each host whose HA
monitor watches it, or why its monitoring stopped, since when, and how
often it is retried (``ha_monitor.Runtime.states``).

``pool.ha_preflight(pool, heartbeat_srs, configuration, cluster_stack)``:
enable_ha's checks (``ha_checks``, in xapi's order) run one by one on a
read of the store, each a finding ``{check, object, result, code, params,
detail}`` (result ``pass``, ``fail`` or ``skip``), plus per host whether the
chosen stack's scripts are there; nothing is written, no script runs.  Its
last finding, ``enable_ha``, is the error enable_ha would raise first
(``ha_checks.check`` itself), or pass with the stack it would choose.
"""

import os
import typing

from sm_clusterstack import constraints, errors, explain, hostsandbox, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xapi.ha import operation
from sm_clusterstack.xapi.ha import checks as ha_checks
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.hosts import onhost
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records


@method("pool.get_ha_livesets", "self:ref:pool")
def get_ha_livesets(ctx, session, self) -> dict:
    """(shim only) every host's ha_query_liveset output, or "error: ..." where it failed."""
    with ctx.store.read() as conn:
        pool = model.check_ref(conn, "pool", self)
        if not pool["ha_enabled"]:
            raise XenAPIError(errors.HA_NOT_ENABLED)
        hosts = records.host_refs(conn)
    found = {}

    def query(host):
        try:
            found[host] = onhost.stack_on(ctx, host, pool["ha_cluster_stack"]).liveset_text()
        except onhost.ScriptFailed as e:  # what the stack says, e.g. why the host is fencing
            found[host] = "error: " + e.reason
        except XenAPIError as e:
            found[host] = "error: " + " ".join(e.description)
    operation.in_parallel(query, hosts)
    return found


@method("pool.get_ha_monitors", "self:ref:pool")
def get_ha_monitors(ctx, session, self) -> dict:
    """(shim only) {host ref: "" while its HA monitor watches it, else why and since when it stopped}."""
    with ctx.store.read() as conn:
        model.check_ref(conn, "pool", self)
    return ctx.ha_runtime.states() if ctx.ha_runtime is not None else {}


class Findings(object):
    """The findings of one preflight, in order."""

    def __init__(self, explain_error: typing.Callable[[XenAPIError], str] = lambda e: "") -> None:
        self.items = []
        self.explain_error = explain_error

    def add(self, check: str, host: str = "", error: typing.Optional[XenAPIError] = None, detail: str = "",
            result: str = "") -> None:
        if error is not None and not detail:
            detail = self.explain_error(error)
        self.items.append({"check": check, "object": host, "result": result or ("fail" if error else "pass"),
                           "code": error.code if error else "", "params": list(error.params) if error else [],
                           "detail": detail})

    def run(self, check: str, fn: typing.Callable[[], typing.Any], host: str = "",
            detail: typing.Callable[[typing.Any], str] = lambda _: "") -> typing.Any:
        """Run one check: pass with ``detail(value)``, or fail with its XenAPI error; its value or None."""
        try:
            value = fn()
        except XenAPIError as e:
            self.add(check, host, e)
            return None
        self.add(check, host, detail=detail(value))
        return value


@method("pool.ha_preflight", "self:ref:pool", "heartbeat_srs:refs:SR", "configuration:map", "cluster_stack:str")
def ha_preflight(ctx, session, self, heartbeat_srs, configuration, cluster_stack) -> list:
    """(shim only) enable_ha's checks as findings; changes nothing."""
    from sm_clusterstack.xapi.rpc import calllog
    request = {"heartbeat_srs": list(heartbeat_srs), "cluster_stack": cluster_stack}

    def why(error: XenAPIError) -> str:
        lines = explain.explain(error.code, list(error.params), calllog.snapshot(ctx), request)
        return " ".join(lines) or _timeout_detail(error)
    found = Findings(why)
    with ctx.store.read() as conn:
        model.check_ref(conn, "pool", self)
        _pool_checks(conn, found)
        hosts = records.hosts(conn)
        for sr in heartbeat_srs:
            found.run("heartbeat-sr.exists", lambda: model.check_ref(conn, "SR", sr), sr,
                      detail=lambda row: "SR %s (%s, type %s)" % (row["uuid"], row["name_label"], row["type"]))
        for host in hosts:
            _host_checks(conn, found, host)
        found.run("config.timeout", lambda: ha_checks.base_timeout(
            configuration, _map(records.pool_row(conn)["other_config"])), detail=lambda t: "base timeout %d s" % t)
        stack = _stack_checks(ctx, conn, found, cluster_stack)
        if stack is not None:
            for host in hosts:
                _stack_on_host(ctx, found, host, stack)
            _heartbeat_sr(ctx, conn, found, hosts, stack, heartbeat_srs)
        found.run("enable_ha", lambda: ha_checks.check(conn, ctx, list(heartbeat_srs), configuration, cluster_stack),
                  detail=lambda c: "would enable HA on stack %s, statefile on SR %s" % (c.stack, _uuid(conn, c.sr)))
    return found.items


def _timeout_detail(error: XenAPIError) -> str:
    """What a refused HA timeout must be (``ha_checks.base_timeout``: Timeouts.get_base_t and derive)."""
    if error.code != errors.INVALID_VALUE or error.params[:1] not in (("timeout",), ("default_ha_timeout",)):
        return ""
    source = "ha-config:timeout" if error.params[0] == "timeout" else "the pool's other-config:default_ha_timeout"
    return ("Why: %s is %r: the base timeout is a whole number of seconds, at least %d (xapi_ha.ml Timeouts.derive). "
            "Next: give ha-config:timeout=%d or more." % (source, error.params[1], xhadconf.MIN_TIMEOUT,
                                                          xhadconf.MIN_TIMEOUT))


def _uuid(conn, sr: str) -> str:
    row = store_mod.row(conn, "SR", sr)
    return row["uuid"] if row is not None else sr


def _map(text) -> dict:
    value = store_mod.loads(text)
    return value if isinstance(value, dict) else {}


def _pool_checks(conn, found: Findings) -> None:
    pool = records.pool_row(conn)

    def not_enabled():
        if pool["ha_enabled"]:
            raise XenAPIError(errors.HA_IS_ENABLED)
        running = pool["ha_operation"] or ("enable" if records.ha_plan(conn) else "")
        if running:
            raise XenAPIError(operation.IN_PROGRESS.get(running, errors.HA_ENABLE_IN_PROGRESS))
    found.run("pool.ha-not-enabled", not_enabled)


def _host_checks(conn, found: Findings, host) -> None:
    def live():
        if not records.is_live(conn, host["ref"]):
            raise XenAPIError(errors.HOST_OFFLINE, host["ref"])

    def pif():
        row = records.management_pif(conn, host["ref"])
        if row is None:
            raise XenAPIError(errors.INTERNAL_ERROR, "Cannot enable HA on host %s: there is no management "
                                                     "interface for heartbeating" % host["hostname"])
        return row
    found.run("host.live", live, host["ref"], detail=lambda _: "host_metrics live")
    found.run("host.management-pif", pif, host["ref"],
              detail=lambda row: "%s on %s, %s" % (row["device"], row["bridge"], row["IP"]))


def _stack_checks(ctx, conn, found: Findings, requested: str) -> typing.Optional[str]:
    installed = stacks.installed_stacks(ctx.stack_root)
    stack = found.run("stack.choice", lambda: constraints.choose_stack(
        plug.active_constrained(conn), installed, requested, default=ctx.default_stack),
        detail=lambda s: "%s: %s" % (s, _why(conn, ctx, requested, installed)))
    if stack is None:
        return None

    def safe():
        try:
            stacks.check_safe(stacks.stack_dir(ctx.stack_root, stack))
            return stacks.supported_srs(ctx.stack_root, stack)
        except stacks.StackError as e:
            raise XenAPIError(errors.HA_CONFIGURATION_INVALID, str(e))
    found.run("stack.safe", safe, detail=lambda s: "statefile SR types: %s" % (" ".join(s) if s is not None else "any"))
    return stack if found.items[-1]["result"] == "pass" else None


def _why(conn, ctx, requested, installed) -> str:
    srs = []
    for sr in plug.active_constrained(conn):
        row = store_mod.row(conn, "SR", sr.ref)
        srs.append(explain.SRView(sr.ref, row["uuid"], row["name_label"], sr.type, sr.required_cluster_stack, True))
    view = explain.PoolView(srs, False, "", {name: None for name in installed}, ctx.default_stack)
    return explain.chosen_stack(view, requested)[1]


def _stack_on_host(ctx, found: Findings, host, stack: str) -> None:
    """The chosen stack's scripts, looked for where that host runs them (inside its sandbox, if it has one)."""
    box = onhost.sandbox_of(ctx, host["ref"])
    directory = os.path.join(hostsandbox.STACK_ROOT_INSIDE if box is not None else ctx.stack_root, stack)

    def present():
        # find(1) lists the executable files: one process per host, run as the host runs its scripts
        result = onhost.runner_for(ctx, host["ref"])(
            ["find", directory, "-maxdepth", "1", "-type", "f", "-perm", "-u+x", "-printf", "%f\\n"],
            timeout=30, env=hostsandbox.xapi_env(directory))
        missing = [s for s in stacks.SCRIPTS if s not in result.stdout.split()]
        if missing:
            raise XenAPIError(errors.HA_CONFIGURATION_INVALID, "host %s: %s: missing or not executable: %s"
                              % (host["uuid"], directory, " ".join(missing)))
    found.run("host.stack-scripts", present, host["ref"],
              detail=lambda _: "%s: all %d scripts" % (directory, len(stacks.SCRIPTS)))


def _heartbeat_sr(ctx, conn, found: Findings, hosts, stack: str, heartbeat_srs) -> None:
    host_refs = [h["ref"] for h in hosts]
    supported = stacks.supported_srs(ctx.stack_root, stack)
    for sr in heartbeat_srs[:1]:
        if store_mod.row(conn, "SR", sr) is None:
            found.add("heartbeat-sr", sr, result="skip", detail="no such SR")
            continue
        found.run("heartbeat-sr", lambda: ha_checks.check_sr(conn, sr, host_refs, supported), sr,
                  detail=lambda reuse: _vdis(reuse))
    if not heartbeat_srs:
        found.run("heartbeat-sr", lambda: ha_checks._any_eligible(conn, host_refs, supported),
                  detail=lambda chosen: "none given: SR %s would be chosen; %s" % (
                      _uuid(conn, chosen[0]), _vdis(chosen[1])))


def _vdis(reuse) -> str:
    statefile, metadata = reuse
    return "statefile %s, metadata %s" % ("reused " + statefile if statefile else "to create",
                                          "reused " + metadata if metadata else "to create")
