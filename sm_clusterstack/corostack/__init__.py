"""The corosync cluster stack: the xhad interface over a real corosync 3.

``conf`` turns xhad.conf into corosync.conf, ``statefile`` keeps the pool
state, master and excluded flags, ``tools`` reads corosync's own tools,
``livesetbuild`` makes the liveset, ``daemon`` and ``monitor`` run corosync
and the fence monitor, and ``main`` is what each script of
``libexec/xapi/cluster-stack/corosync-ha/`` calls.

Settings come from the environment, each in one place here.
"""

import os
import re
import shlex
import shutil
import typing

from sm_clusterstack import CLUSTER_NAME_PATTERN, DEFAULT_CLUSTER_NAME

DIR_ENV = "SM_CLUSTERSTACK_COROSYNC_DIR"
DEFAULT_DIR = "/run/sm-clusterstack/corosync"
FENCE_ENV = "SM_CLUSTERSTACK_FENCE_ACTION"
CLUSTER_NAME_ENV = "SM_CLUSTERSTACK_COROSYNC_CLUSTER_NAME"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def runtime_dir(environ: typing.Optional[typing.Mapping[str, str]] = None) -> str:
    """Where this host's corosync.conf and daemon files live (one setting)."""
    env = os.environ if environ is None else environ
    return os.path.abspath(env.get(DIR_ENV) or DEFAULT_DIR)


def cluster_name(environ: typing.Optional[typing.Mapping[str, str]] = None) -> str:
    """The pool's corosync cluster name: the setting, else DEFAULT_CLUSTER_NAME.

    It must equal the ``cluster_name`` the pool's OCFS2 SRs were created
    with.  Raises ValueError for a name OCFS2 could not carry.
    """
    env = os.environ if environ is None else environ
    name = env.get(CLUSTER_NAME_ENV) or DEFAULT_CLUSTER_NAME
    if not re.match(CLUSTER_NAME_PATTERN + r"\Z", name):
        raise ValueError("%s=%r: a cluster name is 1 to 16 of [A-Za-z0-9_-]" % (CLUSTER_NAME_ENV, name))
    return name


def fence_action(environ: typing.Optional[typing.Mapping[str, str]] = None) -> typing.List[str]:
    """The fence command as argv; [] means the built-in sysrq reboot.

    Raises ValueError when the setting does not split into words.
    """
    env = os.environ if environ is None else environ
    return shlex.split(env.get(FENCE_ENV, ""))


def find_tool(name: str) -> typing.Optional[str]:
    """The path of corosync tool ``name`` on PATH or the system dirs, None if absent."""
    path = os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH
    return shutil.which(name, path=path)
