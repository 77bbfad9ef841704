"""The sm-dir scan at start: one SM record per driver, from its sr_get_driver_info.

As xapi: every executable ``<Type>SR`` in the sm-dir is asked
``sr_get_driver_info``; a driver that fails or answers badly is skipped (and
logged); the SM type is the file name without ``SR``, lower-cased.  A
driver that anyone but root (or the shim's own user) could change, through
itself, the sm-dir or any directory above it, is not run at all.  SM
records of drivers no longer there (or failing) are removed, unless SRs of
that type exist: their record keeps their required_cluster_stack counting
in the plug check.
"""

import logging
import os
import typing

from sm_clusterstack import stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.smapi import caller, driverinfo
from sm_clusterstack.smapi.driverinfo import DriverInfoError
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

LOG = logging.getLogger("sm_clusterstack.xapi")
INFO_TIMEOUT = 60.0  # seconds


def driver_files(sm_dir: str) -> typing.List[str]:
    """The driver executables of ``sm_dir``, sorted."""
    try:
        names = sorted(os.listdir(sm_dir))
    except OSError:
        return []
    return [os.path.join(sm_dir, n) for n in names
            if n.endswith("SR") and len(n) > 2 and os.path.isfile(os.path.join(sm_dir, n))
            and os.access(os.path.join(sm_dir, n), os.X_OK)]


def sm_type(path: str) -> str:
    """The SM type a driver file serves: ``OCFS2SR`` -> ``ocfs2``."""
    return os.path.basename(path)[:-2].lower()


def driver_info(path: str, xapi_url: str = "") -> driverinfo.DriverInfo:
    """The checked sr_get_driver_info answer of the driver at ``path``."""
    params = {"host_ref": store_mod.NULL_REF, "device_config": {}, "args": [],
              "session_ref": store_mod.NULL_REF}
    info = caller.call(path, "sr_get_driver_info", params, xapi_url=xapi_url, timeout=INFO_TIMEOUT)
    return validate(info)


def validate(info: typing.Any) -> driverinfo.DriverInfo:
    """The DriverInfo of an answer; DriverInfoError saying what xapi would reject."""
    return driverinfo.parse(info)


def sm_row(path: str, info: driverinfo.DriverInfo) -> typing.Dict[str, typing.Any]:
    """The SM columns for a driver and its info."""
    features = {}
    for cap in info.capabilities:
        name, _, version = cap.partition(":")
        features[name] = version if version.isdigit() else "1"
    return {
        "type": sm_type(path), "name_label": info.name, "name_description": info.description,
        "vendor": info.vendor, "copyright": info.copyright, "version": info.driver_version,
        "required_api_version": info.required_api_version,
        "capabilities": [c.partition(":")[0] for c in info.capabilities], "features": features,
        "configuration": {c["key"]: c["description"] for c in info.configuration},
        "driver_filename": path, "required_cluster_stack": list(info.required_cluster_stack),
    }


def trust_problems(path: str) -> typing.List[str]:
    """Why the driver at ``path`` may not run as this process: anyone but root (or us) could change it."""
    return stacks.file_problems(path, os.geteuid())


def scan(ctx) -> typing.List[str]:
    """(Re)create the SM records from the sm-dir; the types found (an untrusted driver is skipped)."""
    found = {}
    for path in driver_files(ctx.sm_dir):
        problems = trust_problems(path)
        if problems:
            LOG.warning("skipping driver %s: unsafe: %s", path, "; ".join(problems))
            continue
        try:
            found[sm_type(path)] = sm_row(path, driver_info(path, ctx.xapi_url))
        except (XenAPIError, DriverInfoError) as e:
            LOG.warning("skipping driver %s: %s", path, e)
    with ctx.store.write() as conn:
        existing = records.sm_refs_by_type(conn)
        for gone in sorted(set(existing) - set(found)):
            if records.sr_type_in_use(conn, gone):
                LOG.warning("no answer from a driver of SM type %s: keeping its record, as SRs of it exist", gone)
                continue
            store_mod.delete(conn, "SM", existing[gone])
        for sr_type, row in found.items():
            if sr_type in existing:
                store_mod.update(conn, "SM", existing[sr_type], **row)
            else:
                store_mod.insert(conn, "SM", dict(row, ref=store_mod.new_ref(), uuid=store_mod.new_uuid()))
    return sorted(found)
