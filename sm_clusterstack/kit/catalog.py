"""Every check of the kit with one line on what passes (``sm-clusterstack kit --list``)."""

import typing

from sm_clusterstack.kit import driver_badinput, driver_pool, driver_static, stack_live, stack_static

DESCRIPTIONS = {
    stack_static.NAME: "the directory name is a stack name ([A-Za-z0-9][A-Za-z0-9._-]*)",
    stack_static.SCRIPT_MISSING: "the 8 ha_* scripts of the xhad interface exist and are executable",
    stack_static.UNSAFE: "directory and files owned by root, not group or world writable",
    stack_static.SUPPORTED_SRS: "ha_supported_srs, if present, lists valid SR type names",
    stack_live.NO_DAEMON_EXIT: "with no daemon: ha_stop_daemon exits 0, ha_query_liveset exits 14",
    stack_live.BAD_ARGUMENT: "ha_set_pool_state with an unknown state, or none, exits 1",
    stack_live.POOL_STATE: "with no daemon, ha_set_pool_state init, invalid, init all exit 0",
    stack_live.START_DAEMON: "ha_start_daemon -C CONFIG exits 0",
    stack_live.LIVESET_SCHEMA: "ha_query_liveset prints a liveset xapi accepts (xha_interface.ml rules)",
    stack_live.LIVESET_LOCALHOST: "the liveset's localhost is the configured host, and it is live",
    stack_live.PROPOSE_MASTER: "ha_propose_master prints TRUE (the sandbox's one-host pool is quorate)",
    stack_live.EXCLUDED: "ha_set_excluded / ha_clear_excluded exit 0 and the liveset's excluded flag follows",
    stack_live.POOL_STATE_RUNNING: "ha_set_pool_state init is refused while the daemon runs",
    stack_live.DISARM_FENCING: "ha_disarm_fencing exits 0 while the daemon runs",
    stack_live.STOP_DAEMON: "ha_stop_daemon exits 0, then ha_query_liveset exits 14 and no process is left",
    stack_live.NO_FENCE: "the stack never ran its fence action (SM_CLUSTERSTACK_FENCE_ACTION) during the checks",
    stack_live.TIMEOUT: "no script had to be killed at its timeout",
    driver_static.EXECUTABLE: "an executable <Type>SR file whose type is a valid name",
    driver_static.INFO: "sr_get_driver_info answers with an XML-RPC response, exit 0",
    driver_static.INFO_MEMBER: "every standard member of the driver info present, with xapi's types",
    driver_static.CONFIGURATION: "configuration entries are {key, description} strings, keys unique",
    driver_static.REQUIRED_CLUSTER_STACK: "required_cluster_stack present, an array of valid stack names",
    driver_badinput.BAD_INPUT: "malformed invocations each answered with a fault, exit 0, no traceback",
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
