"""sm-clusterstack: let a Xen pool take HA membership from its storage's cluster manager."""

__version__ = "0.1.0"
