"""The corosync cluster stack: the xhad interface over a real corosync 3.

``conf`` turns xhad.conf into corosync.conf, ``statefile`` keeps the pool
state, master and excluded flags, ``tools`` reads corosync's own tools,
``livesetbuild`` makes the liveset, ``daemon`` and ``monitor`` run corosync
and the fence monitor, and ``main`` is what each script of
``libexec/xapi/cluster-stack/corosync/`` calls.

Settings come from the environment, each in one place here.
"""

import os
import shlex
import shutil
import typing

DIR_ENV = "SM_CLUSTERSTACK_COROSYNC_DIR"
DEFAULT_DIR = "/run/sm-clusterstack/corosync"
FENCE_ENV = "SM_CLUSTERSTACK_FENCE_ACTION"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def runtime_dir(environ: typing.Optional[typing.Mapping[str, str]] = None) -> str:
    """Where this host's corosync.conf and daemon files live (one setting)."""
    env = os.environ if environ is None else environ
    return os.path.abspath(env.get(DIR_ENV) or DEFAULT_DIR)


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
