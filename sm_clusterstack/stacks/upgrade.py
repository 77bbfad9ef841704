"""Move xhad's scripts and tools from their legacy directory into ``<root>/xhad``.

``plan`` looks and changes nothing; ``apply`` carries a plan out.  For each
regular file of the legacy directory (``/opt/xensource/xha`` on a XenServer
host): copy it into ``<root>/xhad`` (temporary name, fsync, rename over
the wrapper this project ships there), then replace the legacy file with a
symbolic link to its new place (again by rename).  Each step is atomic, so
an interrupted run leaves either the old file or its link at each legacy
path and running again finishes the job; a finished run plans nothing.
A real tool already in ``<root>/xhad`` is never replaced by a wrapper or by
a different file.
"""

import filecmp
import os
import stat
import typing

from sm_clusterstack import atomicfile
from sm_clusterstack.stacks import names

LEGACY_DIR = "/opt/xensource/xha"
STACK = "xhad"
SUPPORTED_SRS = "lvm lvmoiscsi lvmohba nfs\n"
WRAPPER_MARKER = b"# sm-clusterstack: xhad wrapper"
TMP_SUFFIX = ".sm-upgrade"

MOVE, LINK, DONE, SKIP, CONFLICT, WRITE, CLEAN = "move", "link", "done", "skip", "conflict", "write", "clean"
CHANGES = (MOVE, LINK, WRITE, CLEAN)


class UpgradeError(Exception):
    """A step that could not be carried out; the text names the path."""


class Step(object):
    """One thing the upgrade does (or found already done) for one path."""

    def __init__(self, action: str, source: str, target: str, note: str = "") -> None:
        self.action = action
        self.source = source
        self.target = target
        self.note = note

    def describe(self) -> str:
        """One line for the operator."""
        if self.action in (SKIP, CONFLICT):
            return "%s %s: %s" % (self.action, self.source, self.note)
        if self.action in (WRITE, CLEAN):
            return "%s %s" % (self.action, self.target)
        return "%s %s -> %s%s" % (self.action, self.source, self.target, {
            MOVE: " (a link is left at the old path)", LINK: " (already copied; replace the old file by a link)",
            DONE: " (already moved)"}[self.action])

    def __repr__(self):
        return "Step(%r, %r, %r)" % (self.action, self.source, self.target)


def is_wrapper(path: str) -> bool:
    """True when ``path`` is one of the wrappers this project ships for xhad."""
    try:
        with open(path, "rb") as f:
            return WRAPPER_MARKER in f.read(512)
    except OSError:
        return False


def plan(root: str, legacy_dir: str = LEGACY_DIR) -> typing.List[Step]:
    """What an upgrade of ``root`` from ``legacy_dir`` would do, path by path."""
    target_dir = os.path.join(root, STACK)
    steps = []
    supported = os.path.join(target_dir, names.HA_SUPPORTED_SRS)
    if not os.path.exists(supported):
        steps.append(Step(WRITE, supported, supported))
    if _same_directory(legacy_dir, target_dir):
        return steps  # the legacy path already is (or leads to) the stack: nothing to move
    for directory in (target_dir, legacy_dir):
        steps.extend(Step(CLEAN, path, path) for path in _listing(directory, full=True)
                     if path.endswith(TMP_SUFFIX))
    for name in _listing(legacy_dir):
        if not name.endswith(TMP_SUFFIX):
            steps.append(plan_one(os.path.join(legacy_dir, name), os.path.join(target_dir, name)))
    return steps


def _same_directory(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _listing(directory: str, full: bool = False) -> typing.List[str]:
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UpgradeError("%s: %s" % (directory, e.strerror or e))
    return [os.path.join(directory, n) for n in names] if full else names


def plan_one(source: str, target: str) -> Step:
    """The step for one entry of the legacy directory."""
    if os.path.islink(source):
        if os.path.realpath(source) == os.path.realpath(target):
            return Step(DONE, source, target)
        return Step(SKIP, source, target, "a link to %s" % os.readlink(source))
    if not os.path.isfile(source):
        return Step(SKIP, source, target, "not a regular file")
    if os.path.lexists(target) and os.path.samefile(source, target):
        return Step(DONE, source, target)  # one file under two names: linking would destroy it
    if not os.path.lexists(target) or is_wrapper(target):
        return Step(MOVE, source, target)
    if os.path.isfile(target) and not os.path.islink(target) and filecmp.cmp(source, target, shallow=False):
        return Step(LINK, source, target)
    return Step(CONFLICT, source, target, "%s exists and differs; move one of them aside" % target)


def apply(steps: typing.List[Step]) -> None:
    """Carry out ``steps`` in order (UpgradeError on the first failure)."""
    for step in steps:
        try:
            _ACTIONS.get(step.action, _nothing)(step)
        except OSError as e:
            raise UpgradeError("%s: %s" % (step.describe(), e.strerror or e))


def _write(step: Step) -> None:
    os.makedirs(os.path.dirname(step.target), mode=0o755, exist_ok=True)
    _write_text_atomic(step.target, SUPPORTED_SRS)


def _move(step: Step) -> None:
    os.makedirs(os.path.dirname(step.target), mode=0o755, exist_ok=True)
    _copy_atomic(step.source, step.target)
    _link_atomic(step.target, step.source)


def _link(step: Step) -> None:
    _link_atomic(step.target, step.source)


def _clean(step: Step) -> None:
    os.unlink(step.target)


def _nothing(step: Step) -> None:
    pass


_ACTIONS = {WRITE: _write, MOVE: _move, LINK: _link, CLEAN: _clean}


def _copy_atomic(source: str, target: str) -> None:
    with open(source, "rb") as f:
        data = f.read()
    mode = stat.S_IMODE(os.stat(source).st_mode) & ~(stat.S_IWGRP | stat.S_IWOTH)
    atomicfile.write(target, data, mode=mode, suffix=TMP_SUFFIX, sync=True, sync_dir=True)


def _write_text_atomic(target: str, text: str) -> None:
    atomicfile.write(target, text, mode=0o644, suffix=TMP_SUFFIX, sync=True)


def _link_atomic(target: str, link: str) -> None:
    atomicfile.symlink(os.path.abspath(target), link, suffix=TMP_SUFFIX, sync_dir=True)
