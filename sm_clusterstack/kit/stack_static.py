"""Static checks of a cluster-stack directory: name, scripts, safety, ha_supported_srs."""

import os
import typing

from sm_clusterstack import constraints, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.kit import result as res

NAME = "stack.name"
SCRIPT_MISSING = "stack.script-missing"
UNSAFE = "stack.unsafe"
SUPPORTED_SRS = "stack.supported-srs"
CHECKS = (NAME, SCRIPT_MISSING, UNSAFE, SUPPORTED_SRS)


def missing_scripts(path: str) -> typing.List[str]:
    """The interface scripts that are not regular executable files in ``path``."""
    return [s for s in stacks.SCRIPTS
            if not (os.path.isfile(os.path.join(path, s)) and os.access(os.path.join(path, s), os.X_OK))]


def check_name(path: str) -> typing.Tuple[str, str]:
    """The directory's name must be a valid stack name (one path component)."""
    name = os.path.basename(os.path.normpath(path))
    if constraints.is_valid_name(name):
        return res.PASS, "%r is a valid stack name" % name
    return res.FAIL, "%r is not a stack name ([A-Za-z0-9][A-Za-z0-9._-]*, at most %d characters)" % (
        name, constraints.MAX_NAME_LENGTH)


def check_scripts(path: str) -> typing.Tuple[str, str]:
    """Every script of the xhad interface exists and is executable."""
    missing = missing_scripts(path)
    if missing:
        return res.FAIL, "missing or not executable: %s" % " ".join(missing)
    return res.PASS, "all %d scripts present and executable" % len(stacks.SCRIPTS)


def check_safety(path: str, owner_uid: int = 0) -> typing.Tuple[str, str]:
    """The directory and its files are owned by root and writable by nobody else."""
    problems = stacks.safety_problems(path, owner_uid)
    if problems:
        return res.FAIL, "; ".join(problems)
    return res.PASS, "owned by uid %d, not group or world writable" % owner_uid


def check_supported_srs(path: str) -> typing.Tuple[str, str]:
    """``ha_supported_srs``, when present, lists valid SR type names."""
    root, name = os.path.split(os.path.normpath(path))
    if not constraints.is_valid_name(name):
        return res.SKIP, "not checked: the stack name is invalid"
    try:
        types = stacks.supported_srs(root, name)
    except (stacks.StackError, XenAPIError) as e:
        return res.FAIL, str(e)
    if types is None:
        return res.PASS, "absent: any SR type may hold the statefile"
    if not types:
        return res.FAIL, "%s lists no SR type: no SR could hold the statefile" % stacks.SUPPORTED_SRS_FILE
    return res.PASS, "statefile SR types: %s" % " ".join(types)


def run(suite: res.Suite, path: str, owner_uid: int = 0) -> None:
    """Record the static checks of the stack at ``path`` in ``suite``."""
    funcs = {NAME: check_name, SCRIPT_MISSING: check_scripts, SUPPORTED_SRS: check_supported_srs,
             UNSAFE: lambda p: check_safety(p, owner_uid)}
    for check in CHECKS:
        suite.mark()
        suite.add(check, *funcs[check](path))
