"""sm-clusterstack: let a Xen pool take HA membership from its storage's cluster manager."""

__version__ = "0.1.0"

# The cluster name an OCFS2 SR is formatted with (device_config cluster_name)
# and the one the corosync stack gives corosync (totem.cluster_name) must be
# the same, or the filesystem refuses to mount: both default to this, and
# both are set per pool, never derived from an HA generation.
DEFAULT_CLUSTER_NAME = "xapi"
CLUSTER_NAME_PATTERN = "[A-Za-z0-9_-]{1,16}"  # OCFS2's limit: 16 characters
