"""Every check of the kit with one line on what passes (``sm-clusterstack kit --list``)."""

import typing

from sm_clusterstack.kit import driver_badinput, driver_pool, driver_static, stack_leave, stack_live, stack_static

DESCRIPTIONS = {
    stack_static.NAME: "the directory name is a stack name ([A-Za-z0-9][A-Za-z0-9._-]*)",
    stack_static.SCRIPT_MISSING: "the 8 ha_* scripts of the xhad interface exist and are executable",
    stack_static.UNSAFE: "directory and files owned by root, not group or world writable",
    stack_static.SUPPORTED_SRS: "ha_supported_srs, if present, lists valid SR type names",
    stack_live.NO_DAEMON_EXIT: "with no daemon, on every host: ha_stop_daemon exits 0, ha_query_liveset exits 14",
    stack_live.BAD_ARGUMENT: "ha_set_pool_state with an unknown state, or none, exits 1",
    stack_live.POOL_STATE: "with no daemon, on the master: ha_set_pool_state init, invalid, init all exit 0",
    stack_live.START_DAEMON: "ha_start_daemon, run on every host at once as xapi does, exits 0 on each",
    stack_live.LIVESET_SCHEMA: "every host's ha_query_liveset prints a liveset xapi accepts (xha_interface.ml rules)",
    stack_live.LIVESET_LOCALHOST: "each host's liveset names it localhost, Online, with itself live",
    stack_live.POOL_JOIN: "every host's liveset lists every configured host, live",
    stack_live.PROPOSE_MASTER: "ha_propose_master: TRUE on the master, not TRUE elsewhere; every liveset flags it",
    stack_live.POOL_STATE_RUNNING: "ha_set_pool_state init is refused while the daemons run",
    stack_leave.DISARM_FENCING: "the host shutting down: ha_disarm_fencing exits 0, its daemon still answers",
    stack_leave.STOP_DAEMON: "the host shutting down: ha_stop_daemon exits 0, then query exits 14, no process left",
    stack_leave.EXCLUDED: "then ha_set_excluded exits 0, the others see it excluded; restarted, it rejoins",
    stack_leave.DISABLE: "disable as xapi: invalid and stop on the master; every daemon stops; nothing left",
    stack_leave.NO_FENCE: "no daemon that should run ever vanished (a fenced host loses its daemon)",
    stack_leave.TIMEOUT: "no script had to be killed at its timeout",
    driver_static.EXECUTABLE: "an executable <Type>SR file whose type is a valid name",
    driver_static.INFO: "sr_get_driver_info answers with an XML-RPC response, exit 0",
    driver_static.INFO_MEMBER: "every standard member of the driver info present, with xapi's types",
    driver_static.CONFIGURATION: "configuration entries are {key, description} strings, keys unique",
    driver_static.REQUIRED_CLUSTER_STACK: "required_cluster_stack present, an array of valid stack names",
    driver_badinput.BAD_INPUT: "malformed invocations each answered with a fault, exit 0, no traceback; "
                               "the device_config ones sent on the pool must reach the key (else SKIP)",
    driver_pool.SM_RECORD: "the embedded pool's sm-dir scan registers the driver with its stacks",
    driver_pool.ATTACH_EXCLUSION: "HA on a stack not allowed: sr_attach and PBD.plug refused, "
                                  "INCOMPATIBLE_CLUSTER_STACK_ACTIVE",
    driver_pool.ATTACH_COMPATIBLE: "HA on each allowed stack in turn: attach not refused for the cluster stack",
}


def stack_checks() -> typing.List[str]:
    """Ids of the stack checks, in the order they run."""
    return list(stack_static.CHECKS) + list(stack_live.IDS)


def driver_checks() -> typing.List[str]:
    """Ids of the driver checks, in the order they run."""
    return list(driver_static.CHECKS) + [driver_badinput.BAD_INPUT] + list(driver_pool.CHECKS)


def listing() -> str:
    """The text ``kit --list`` prints: each check id and what passes."""
    width = max(len(check) for check in DESCRIPTIONS)
    return "".join("%-*s  %s\n" % (width, check, DESCRIPTIONS[check])
                   for check in stack_checks() + driver_checks())
