"""The required cluster stacks of the drivers beside this one, for pools whose SM records lack them.

Stock xapi has no ``SM.required_cluster_stack``: on such a host a driver
learns what an attached SR of another type requires by asking that type's
driver, in its own directory, for ``sr_get_driver_info``, exactly as
xapi's scan does (one process per type, only for types the pool's
records leave unanswered).  A driver that is absent or answers badly
constrains nothing, as it would for xapi.
"""

import os
import typing
import xmlrpc.client

from sm_clusterstack import runner, xmlrpc_safe
from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import driverinfo

TIMEOUT = 30.0  # seconds for one sr_get_driver_info


def driver_path(sm_dir: str, sr_type: str) -> str:
    """The driver of ``sr_type`` in ``sm_dir`` (xapi matches ``<Type>SR`` case-insensitively), or ""."""
    try:
        names = sorted(os.listdir(sm_dir))
    except OSError:
        return ""
    for name in names:
        path = os.path.join(sm_dir, name)
        if name.endswith("SR") and name[:-2].lower() == sr_type.lower() and os.access(path, os.X_OK):
            return path
    return ""


def required_cluster_stack(sm_dir: str, sr_type: str,
                           run: typing.Callable[..., runner.Result] = runner.run) -> typing.List[str]:
    """What the driver of ``sr_type`` beside us declares; [] when it cannot say."""
    path = driver_path(sm_dir, sr_type)
    if not path:
        return []
    result = run([path, smapi_call.Call("sr_get_driver_info").to_xml()], timeout=TIMEOUT)
    try:
        (info,), _ = xmlrpc_safe.loads(result.stdout)
        return driverinfo.parse(info).required_cluster_stack
    except (xmlrpc_safe.XMLRPCFormatError, xmlrpc.client.Fault, driverinfo.DriverInfoError, ValueError):
        return []
