"""system.*: what a client asks before it logs in (XO lists the methods to learn the classes)."""

import typing

from sm_clusterstack.xapi.rpc.registry import REGISTRY, method


@method("system.listMethods", session=False)
def list_methods(ctx) -> typing.List[str]:
    """Every method name the shim serves, sorted (xapi's ``system.listMethods``; XO's xen-api reads
    the classes from the ``<class>.get_all_records`` among them)."""
    return sorted(REGISTRY)
