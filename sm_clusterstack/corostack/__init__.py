"""The corosync-ha cluster stack: the xhad interface over a real corosync 3.

``settings`` reads the host's /etc/sm-clusterstack/corosync-ha.conf;
``conf`` turns xhad.conf into corosync.conf and ``timing`` derives every
timeout from HeartbeatTimeout; ``statefile`` and ``hostslot`` keep the
pool record and each host's published slot, and ``slotio`` does that I/O
out of the monitor's loop; ``arbitration`` holds xhad's
survival, drop and start rules; ``corolib`` binds corosync's client
libraries (ctypes) and ``corowatch`` keeps membership from them in a
thread; ``observe``, ``monitor``, ``guard`` and ``fencing`` run one host (``daemon`` starts and stops the processes);
``view`` and ``livesetbuild`` make the liveset; ``main`` is what each
script of ``libexec/xapi/cluster-stack/corosync-ha/`` calls.
"""

import os
import shutil
import typing

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def find_tool(name: str) -> typing.Optional[str]:
    """The path of corosync tool ``name`` on PATH or the system dirs, None if absent."""
    path = os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH
    return shutil.which(name, path=path)
