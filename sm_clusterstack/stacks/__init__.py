"""The cluster-stack root: stack names, discovery, statefile SR types, safety.

A stack ``foo`` is the directory ``<root>/foo``; it is installed iff that
directory exists.  Its scripts speak the xhad interface (SCRIPTS below);
they are called through ``stacks.client``.
"""

import os
import stat
import typing

from sm_clusterstack import constraints
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import names

SCRIPTS = names.SCRIPTS  # the stack client's names (stacks.client re-exports them)
SUPPORTED_SRS_FILE = names.HA_SUPPORTED_SRS


class StackError(Exception):
    """A stack that cannot be used as it is; the text names the path."""


def stack_dir(root: str, name: str) -> str:
    """The directory of stack ``name`` (raises UNKNOWN_CLUSTER_STACK for a bad name)."""
    return os.path.join(root, constraints.check_stack_name(name))


def installed_stacks(root: str) -> typing.List[str]:
    """The names of the stacks installed under ``root``, sorted.

    Entries whose names are not valid stack names are not stacks.
    """
    try:
        entries = os.listdir(root)
    except OSError:
        return []
    return sorted(e for e in entries
                  if constraints.is_valid_name(e) and os.path.isdir(os.path.join(root, e)))


def is_installed(root: str, name: str) -> bool:
    """True when ``name`` is a valid stack name with a directory under ``root``."""
    return constraints.is_valid_name(name) and os.path.isdir(os.path.join(root, name))


def supported_srs(root: str, name: str) -> typing.Optional[typing.List[str]]:
    """The SR types the stack's statefile may live on; None when unconstrained.

    Reads ``<root>/<name>/ha_supported_srs`` (types separated by white
    space).  An unreadable file or an invalid type name is a StackError:
    unlike upstream xapi, a broken file is not taken for "no constraint".
    """
    path = os.path.join(stack_dir(root, name), SUPPORTED_SRS_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read(65536)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StackError("%s: cannot read: %s" % (path, e.strerror or e))
    try:
        types = data.decode("ascii").split()
    except UnicodeDecodeError:
        raise StackError("%s: not ASCII text" % path)
    bad = [t for t in types if not constraints.is_valid_name(t)]
    if bad:
        raise StackError("%s: invalid SR type name %r" % (path, bad[0]))
    return types


MAX_LINKS = 40  # symbolic links followed in one path, as the kernel's limit


def path_problems(path: str, owner_uid: int = 0) -> typing.List[str]:
    """Why someone other than root or ``owner_uid`` could change what ``path`` is; [] when nobody can.

    Every component from ``/`` down, and through every symbolic link the
    targets' own components, must be owned by root or ``owner_uid`` and
    not group or world writable.  A directory writable by others is
    accepted only with the sticky bit and a trusted owner (as ``/tmp``):
    then nobody else can rename or remove what it holds.  Each problem
    names its path.
    """
    problems, todo, hops = [], os.path.abspath(path).split("/")[1:], 0
    current = "/"
    _check_component(current, os.lstat(current), owner_uid, problems, last=not any(todo))
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        candidate = os.path.dirname(current) if name == ".." else os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except OSError as e:
            return problems + ["%s: %s" % (candidate, e.strerror or e)]
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_LINKS:
                return problems + ["%s: more than %d symbolic links" % (path, MAX_LINKS)]
            target = os.readlink(candidate)
            todo = target.split("/") + todo
            current = "/" if target.startswith("/") else current
            continue
        _check_component(candidate, st, owner_uid, problems, last=not todo)
        current = candidate
    return problems


def _check_component(path: str, st: os.stat_result, owner_uid: int, problems: typing.List[str],
                     last: bool) -> None:
    if st.st_uid not in (0, owner_uid):
        problems.append("%s: owned by uid %d, not %d" % (path, st.st_uid, owner_uid))
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and not last
    if writable and not sticky_dir:
        problems.append("%s: group or world writable (mode %04o)" % (path, stat.S_IMODE(st.st_mode)))


def safety_problems(path: str, owner_uid: int = 0) -> typing.List[str]:
    """Why the stack directory ``path`` is unsafe to run from; [] when safe.

    The directory and every file in it must be owned by ``owner_uid``
    (root) and writable by nobody else; so must every directory above it
    up to ``/`` (``path_problems``).  The stack is a directory of its own
    in the root, not a symbolic link, and a script that is a link must
    lead, through trusted directories only, to a trusted file.  Each
    problem names its path.
    """
    if os.path.islink(path):
        return ["%s: a symbolic link; a stack must be a directory in the cluster-stack root" % path]
    problems = _unsafe(path, owner_uid)
    if problems or not os.path.isdir(path):
        return problems or ["%s: not a directory" % path]
    problems.extend(p for p in path_problems(os.path.dirname(os.path.abspath(path)), owner_uid)
                    if p not in problems)
    for entry in sorted(os.listdir(path)):
        entry_path = os.path.join(path, entry)
        found = _unsafe(entry_path, owner_uid)
        if not found and os.path.islink(entry_path):
            found = path_problems(entry_path, owner_uid)
        problems.extend(found)
    return problems


def file_problems(path: str, owner_uid: int = 0) -> typing.List[str]:
    """Why the executable ``path`` (a driver) is unsafe to run: ``path_problems``, or not a regular file."""
    problems = path_problems(path, owner_uid)
    if not problems and not os.path.isfile(path):
        problems.append("%s: not a regular file" % path)
    return problems


def _unsafe(path: str, owner_uid: int) -> typing.List[str]:
    try:
        st = os.lstat(path)
    except OSError as e:
        return ["%s: %s" % (path, e.strerror or e)]
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as e:
            return ["%s: dangling link: %s" % (path, e.strerror or e)]
    found = []
    if st.st_uid != owner_uid:
        found.append("%s: owned by uid %d, not %d" % (path, st.st_uid, owner_uid))
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        found.append("%s: group or world writable (mode %04o)" % (path, stat.S_IMODE(st.st_mode)))
    return found


def check_safe(path: str, owner_uid: int = 0) -> None:
    """Raise StackError listing every problem if ``path`` is unsafe."""
    problems = safety_problems(path, owner_uid)
    if problems:
        raise StackError("unsafe cluster stack: " + "; ".join(problems))


class StackInfo(object):
    """What an operator wants to know about one installed stack."""

    def __init__(
            self,
            name: str,
            path: str,
            present: typing.List[str],
            missing: typing.List[str],
            supported: typing.Optional[typing.List[str]],
            problems: typing.List[str],
    ) -> None:
        self.name = name
        self.path = path
        self.present = present
        self.missing = missing
        self.supported_srs = supported
        self.problems = problems


def describe(root: str, name: str, owner_uid: int = 0) -> StackInfo:
    """Scripts present and missing, statefile SR types and safety of one stack."""
    path = stack_dir(root, name)
    present = [s for s in SCRIPTS if os.access(os.path.join(path, s), os.X_OK)
               and os.path.isfile(os.path.join(path, s))]
    missing = [s for s in SCRIPTS if s not in present]
    problems = safety_problems(path, owner_uid)
    try:
        supported = supported_srs(root, name)
    except (StackError, XenAPIError) as e:
        supported = None
        problems.append(str(e))
    return StackInfo(name, path, present, missing, supported, problems)
