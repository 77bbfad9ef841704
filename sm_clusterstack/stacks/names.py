"""The names of a cluster stack's scripts, once (the ``let``s of ``ocaml/xapi/xha_scripts.ml``).

A leaf: ``stacks`` (its ``SCRIPTS``), the stack client (``stacks.client``,
which re-exports these) and the corosync-ha stack (whose scripts have these
names) all take them from here, without importing one another.  Every
caller outside this package names a script as ``client.HA_...``.
"""

HA_SET_POOL_STATE = "ha_set_pool_state"
HA_START_DAEMON = "ha_start_daemon"
HA_STOP_DAEMON = "ha_stop_daemon"
HA_QUERY_LIVESET = "ha_query_liveset"
HA_PROPOSE_MASTER = "ha_propose_master"
HA_DISARM_FENCING = "ha_disarm_fencing"
HA_SET_EXCLUDED = "ha_set_excluded"
HA_CLEAR_EXCLUDED = "ha_clear_excluded"  # xapi never calls it ("Unused"); the interface has it
HA_SUPPORTED_SRS = "ha_supported_srs"  # a file, not a script: the statefile SR types

# Every script of the xhad interface, in xha_scripts.ml's order.
SCRIPTS = (
    HA_SET_POOL_STATE, HA_START_DAEMON, HA_STOP_DAEMON, HA_QUERY_LIVESET,
    HA_PROPOSE_MASTER, HA_DISARM_FENCING, HA_SET_EXCLUDED, HA_CLEAR_EXCLUDED,
)

# The arguments of ha_set_pool_state (xapi_ha.ml: init on enable, invalid on disable).
POOL_STATE_INIT = "init"
POOL_STATE_INVALID = "invalid"
