"""The commands of ``sm-clusterstack xe``, each as xapi's CLI defines it.

Names, required and optional parameters and help texts are those of
``ocaml/xapi-cli-server/cli_frontend.ml`` (``cmdtable_data``); the
implementations follow ``cli_operations.ml`` (``sr_create``, ``sr_probe``,
``pbd_create``, ``pool_ha_enable``, ``do_host_op`` for the host commands, ...).  Additions of this project are
``pool-ha-enable cluster-stack=`` (the design's third parameter of
pool.enable_ha) and the check of ``ha-config:`` keys.  ``pool-ha-enable``,
``pool-ha-disable``, ``sr-create`` and ``pbd-plug`` run as tasks with a
progress bar (``progress``).  Every ``<class>-*`` command is generated
(``params``).
"""

import typing

from sm_clusterstack.cli.xe import classes, progress
from sm_clusterstack.cli.xe.errors import ClientError, CliFailure, MultipleFailure, render_failure
from sm_clusterstack.cli.xe.params import Command, generated
from sm_clusterstack.cli.xe.select import STDPARAMS, Params, Row, bool_param, filter_rows, map_params, param, rows_of

HA_CONFIG_KEYS = ("timeout",)  # what xapi_ha.ml reads (Timeouts.get_timeout); the shim also takes xhad.conf names


def master(api) -> str:
    """cli_util.ml ``get_master``."""
    pools = api.pool.get_all()
    if not pools:
        raise CliFailure("Remote host does not belong to a pool.")
    return api.pool.get_master(pools[0])


def parse_host_uuid(api, params: Params, default_master: bool = True) -> str:
    """cli_operations.ml ``parse_host_uuid``."""
    uuid = param(params, "host-uuid")
    if uuid is not None:
        return api.host.get_by_uuid(uuid)
    if len(api.host.get_all()) == 1 or default_master:
        return master(api)
    raise CliFailure("Required parameter not found: host-uuid")


def bytes_of_string(text: str) -> int:
    """record_util.ml ``bytes_of_string``: an integer with an optional KiB/MiB/GiB/TiB suffix."""
    import re
    found = re.match(r"\s*(-?[0-9]+)\s*([A-Za-z]*)\s*\Z", text)
    units = {"": 0, "b": 0, "bytes": 0, "k": 1, "kb": 1, "kib": 1, "m": 2, "mb": 2, "mib": 2,
             "g": 3, "gb": 3, "gib": 3, "t": 4, "tb": 4, "tib": 4}
    if not found or int(found.group(1)) < 0 or found.group(2).lower() not in units:
        raise ValueError(text)
    return int(found.group(1)) * 1024 ** units[found.group(2).lower()]


def call(ctx, method: str, *args: typing.Any) -> typing.Any:
    """Call ``method`` as a task with the progress bar, or plainly with --no-progress."""
    if ctx.progress:
        return progress.run(ctx.api, method, args, ctx.write_err)
    cls, name = method.split(".")
    return getattr(getattr(ctx.api, cls), name)(*args)


def sr_create(ctx, params: Params) -> None:
    shared = bool_param(params, "shared")
    host = parse_host_uuid(ctx.api, params, default_master=shared)
    try:
        size = bytes_of_string(param(params, "physical-size", ""))
    except ValueError:
        size = 0  # cli_operations.ml: an unparsable physical-size is 0
    ref = call(ctx, "SR.create", host, map_params(params, "device-config"), str(size), param(params, "name-label"),
               param(params, "name-description", ""), param(params, "type"), param(params, "content-type", ""),
               shared, map_params(params, "sm-config"))
    ctx.write_out(ctx.api.SR.get_uuid(ref) + "\n")  # marshal fd (Print sr_uuid): printed even with --minimal


def sr_probe(ctx, params: Params) -> None:
    host = parse_host_uuid(ctx.api, params)
    ctx.printer.lines([ctx.api.SR.probe(host, map_params(params, "device-config"), param(params, "type"),
                                        map_params(params, "sm-config"))])


def sr_introduce(ctx, params: Params) -> None:
    ref = ctx.api.SR.introduce(param(params, "uuid"), param(params, "name-label"),
                               param(params, "name-description", ""), param(params, "type"),
                               param(params, "content-type", ""), bool_param(params, "shared"), {})
    ctx.printer.lines([ctx.api.SR.get_uuid(ref)])


def _by_uuid(cls: str, method: str, asynchronous: bool = False):
    def command(ctx, params):
        ref = getattr(ctx.api, cls).get_by_uuid(param(params, "uuid"))
        if asynchronous:
            call(ctx, cls + "." + method, ref)
        else:
            getattr(getattr(ctx.api, cls), method)(ref)
    return command


def pbd_create(ctx, params: Params) -> None:
    prefix = "device-config:"
    device_config = {k[len(prefix):]: v for k, v in params if k.startswith("device-config") and len(k) > len(prefix)}
    ref = ctx.api.PBD.create({"host": ctx.api.host.get_by_uuid(param(params, "host-uuid")),
                              "SR": ctx.api.SR.get_by_uuid(param(params, "sr-uuid")),
                              "device_config": device_config, "other_config": {}})
    ctx.printer.lines([ctx.api.PBD.get_uuid(ref)])


def check_ha_config(configuration: typing.Dict[str, str]) -> None:
    """Refuse an ha-config: key that nothing reads (xapi would ignore a typo silently)."""
    from sm_clusterstack.stacks import xhadconf
    known = list(HA_CONFIG_KEYS) + sorted(xhadconf.PARAMETERS)
    unknown = sorted(k for k in configuration if k not in known)
    if unknown:
        raise ClientError("Error: ha-config:%s is not a key enable_ha reads (known: %s)"
                          % (unknown[0], ", ".join(known)))


def pool_ha_enable(ctx, params: Params) -> None:
    configuration = map_params(params, "ha-config")
    check_ha_config(configuration)
    uuids = param(params, "heartbeat-sr-uuids")
    srs = [ctx.api.SR.get_by_uuid(u) for u in uuids.split(",")] if uuids is not None else []
    args = [srs, configuration]
    if param(params, "cluster-stack") is not None:
        args.append(param(params, "cluster-stack"))
    ctx.request = {"heartbeat_srs": srs, "cluster_stack": param(params, "cluster-stack", "")}
    call(ctx, "pool.enable_ha", *args)


def pool_ha_disable(ctx, params: Params) -> None:
    call(ctx, "pool.disable_ha")


def pool_ha_compute_max(ctx, params: Params) -> None:
    ctx.printer.lines([str(ctx.api.pool.ha_compute_max_host_failures_to_tolerate())])


def pool_ha_compute_hypothetical_max(ctx, params: Params) -> None:
    """cli_operations.ml: vm-uuid= and restart-priority= in pairs, in order, as the proposed configuration."""
    vms = [v for k, v in params if k == "vm-uuid"]
    priorities = [v for k, v in params if k == "restart-priority"]
    if len(vms) != len(priorities):
        raise CliFailure("Call requires an equal number of vm-uuid and restart-priority arguments")
    configuration = {ctx.api.VM.get_by_uuid(uuid): priority for uuid, priority in zip(vms, priorities)}
    ctx.printer.lines([str(ctx.api.pool.ha_compute_hypothetical_max_host_failures_to_tolerate(configuration))])


NO_FORCE = "This operation is dangerous and may cause data loss. This operation must be forced (use --force)."


def host_emergency_ha_disable(ctx, params: Params) -> None:
    """cli_operations.ml ``host_emergency_ha_disable``: --force first (``fail_without_force``), on the host reached."""
    if not bool_param(params, "force"):
        raise CliFailure(NO_FORCE)
    ctx.api.host.emergency_ha_disable(bool_param(params, "soft"))


def host_op(operation: typing.Callable[[typing.Any, str, Params], None],
            ignore: typing.Sequence[str] = ()) -> typing.Callable[[typing.Any, Params], None]:
    """cli_operations.ml ``do_host_op`` over ``select_hosts``: host=<uuid, hostname or name-label> and filters
    on the other params pick the hosts; one, or several with --multiple (each failure printed, then exit 1)."""
    def command(ctx, params: Params) -> None:
        wanted = param(params, "host")
        rows = rows_of(ctx.api, classes.HOST, ctx.lookup)
        if wanted is not None:
            rows = [r for r in rows if wanted in (r.rec.get("uuid"), r.rec.get("hostname"), r.rec.get("name_label"))]
        for key, value in params:
            if key != "host" and key.split(":")[0] not in STDPARAMS + tuple(ignore):
                rows = filter_rows(classes.HOST, rows, key, value)
        if not rows:
            raise CliFailure("No matching hosts found")
        if len(rows) > 1 and not bool_param(params, "multiple"):
            raise CliFailure("Multiple matching hosts found. --multiple required to complete the operation")
        import XenAPI  # here, as main.py: `sm-clusterstack --version` and the kit run without it
        failed = []
        for row in rows:
            try:
                operation(ctx.api, row.ref, params)
            except XenAPI.Failure as e:
                if len(rows) == 1:
                    raise
                failed.append("operation failed on %s: %s" % (row.rec["uuid"], render_failure(e.details).rstrip()))
        if failed:
            raise MultipleFailure("\n".join(failed))
    return command


EVENT_WAIT_TIMEOUT = 30.0  # seconds each event.from waits (cli_operations.ml event_wait_gen)


def event_wait(ctx, params: Params) -> None:
    """cli_operations.ml ``event_wait``: until an object of class= matches every ``field=value`` (or
    ``field=/=value``, not equal): first among the records now, then in each event.from answer."""
    cls = classes.CLASSES.get(param(params, "class"))
    if cls is None:
        raise CliFailure("Cli listening for class '%s' not currently implemented" % param(params, "class"))
    wanted = [(k, v[2:], False) if v.startswith("/=") else (k, v, True)
              for k, v in params if k not in ("class",) + STDPARAMS]

    def matches(row: Row) -> bool:
        for name, value, equal in wanted:
            field = cls.field(name)
            if field is None:
                raise CliFailure("key missing: %s" % name)
            if (row.show(field) == value) != equal:
                return False
        return True
    if any(matches(row) for row in rows_of(ctx.api, cls, ctx.lookup)):
        return
    token = ""
    while True:
        answer = getattr(ctx.api.event, "from")([cls.api], token, EVENT_WAIT_TIMEOUT)
        token = answer["token"]
        for event in answer["events"]:
            if "snapshot" in event and matches(Row(event["ref"], event["snapshot"], ctx.lookup)):
                return


def help_command(ctx, params: Params) -> None:
    """Filled in by xe.py (it needs the table and the usage text)."""
    raise NotImplementedError


SPECIFIC = [
    Command("sr-create", ["name-label", "type"], ["name-description", "host-uuid", "device-config:", "shared",
                                                  "physical-size", "content-type", "sm-config:"],
            "Create an SR, also a PBD. The device-config parameters can be specified by device-config:foo=baa, for "
            "example.", sr_create, async_method="SR.create"),
    Command("sr-probe", ["type"], ["host-uuid", "device-config:", "sm-config:"],
            "Perform a storage probe.  The device-config parameters can be specified by device-config:devs=/dev/sdb1, "
            "for example.", sr_probe),
    Command("sr-scan", ["uuid"], [], "Force an SR scan, syncing database with VDIs present in underlying storage "
            "substrate.", _by_uuid("SR", "scan")),
    Command("sr-introduce", ["name-label", "type", "uuid"], ["name-description", "shared", "content-type"],
            "Introduces an SR (but does not create any PBDs).", sr_introduce),
    Command("sr-destroy", ["uuid"], [], "Destroy the SR.", _by_uuid("SR", "destroy")),
    Command("sr-forget", ["uuid"], [], "Forget about the SR.", _by_uuid("SR", "forget")),
    Command("sr-update", ["uuid"], [], "Refresh the fields of the SR object in the database.",
            _by_uuid("SR", "update")),
    Command("pbd-create", ["host-uuid", "sr-uuid"], ["device-config:"],
            "Create a PBD. The read-only device-config parameter can only be set on creation in the following manner. "
            "To\nadd a mapping of 'path' -> '/tmp', the command line should contain the argument "
            "device-config:path=/tmp", pbd_create),
    Command("pbd-destroy", ["uuid"], [], "Destroy the PBD.", _by_uuid("PBD", "destroy")),
    Command("pbd-plug", ["uuid"], [], "Attempt to plug in the PBD to the host. If this succeeds then the referenced SR "
            "(and the VDIs contained within) should be visible to the host.", _by_uuid("PBD", "plug", True),
            async_method="PBD.plug"),
    Command("pbd-unplug", ["uuid"], [], "Attempt to unplug the PBD from the host. If this succeeds then the referenced "
            "SR (and the VDIs contained within) should not be visible to the host.", _by_uuid("PBD", "unplug")),
    Command("pool-ha-enable", [], ["heartbeat-sr-uuids", "ha-config:", "cluster-stack"], "Enable HA on this Pool.",
            pool_ha_enable, async_method="pool.enable_ha"),
    Command("pool-ha-disable", [], [], "Disable HA on this Pool.", pool_ha_disable, async_method="pool.disable_ha"),
    Command("pool-ha-compute-max-host-failures-to-tolerate", [], [],
            "Compute the maximum number of host failures to tolerate under the current Pool configuration",
            pool_ha_compute_max),
    Command("pool-ha-compute-hypothetical-max-host-failures-to-tolerate", [], ["vm-uuid", "restart-priority"],
            "Compute the maximum number of host failures to tolerate with the supplied, proposed protected VMs.",
            pool_ha_compute_hypothetical_max),
    Command("host-disable", [], ["auto-enable"], "Disable the XE host. Setting auto-enable=false will keep the host "
            "persistently disabled until manually re-enabled with Host.enable.",
            host_op(lambda api, host, params: api.host.disable(host, bool_param(params, "auto-enable", True)),
                    ["auto-enable"])),
    Command("host-enable", [], [], "Enable the XE host.", host_op(lambda api, host, params: api.host.enable(host))),
    Command("host-shutdown", [], [], "Shutdown the XE host.",
            host_op(lambda api, host, params: api.host.shutdown(host))),
    Command("host-reboot", [], [], "Reboot the XE host.", host_op(lambda api, host, params: api.host.reboot(host))),
    Command("host-emergency-ha-disable", [], ["force", "soft"], "Disable HA on the local host. Only to be used to "
            "recover a pool with a broken HA setup.", host_emergency_ha_disable),
    Command("task-cancel", ["uuid"], [], "Set a task to cancelling and return.", _by_uuid("task", "cancel")),
    Command("host-declare-dead", ["uuid"], [], "Declare that the the host is dead without contacting it explicitly. "
            "WARNING: This call is dangerous and can cause data loss if the host is not actually dead",
            _by_uuid("host", "declare_dead")),
    Command("event-wait", ["class"], [], "Wait for the event that satisfies the conditions given on the command line.",
            event_wait),
    Command("help", [], ["all"], "Display help on the given command(s); 'help --all' lists every command.",
            help_command),
]


def table() -> typing.Dict[str, Command]:
    """Every command by name."""
    commands = list(SPECIFIC)
    for cls in classes.CLASSES.values():
        commands += generated(cls)
    return {c.name: c for c in commands}
