"""Exec corosync with our pid file over its fixed lock path.

Run as ``unshare --mount -- python -m sm_clusterstack.corostack.launch
PIDFILE LOCKPATH COROSYNC CONF``: inside the new mount namespace, make
every mount private (so nothing propagates back), bind-mount PIDFILE over
LOCKPATH, point stdio at /dev/null (corosync daemonizes; callers' pipes
must close) and exec corosync, which forks into the background.
"""

import os
import sys

from sm_clusterstack import runner
from sm_clusterstack.corostack import find_tool


def main(argv) -> int:
    """Bind the pid file and exec corosync; 2 on a usage or mount failure."""
    if len(argv) != 4:
        sys.stderr.write("usage: launch PIDFILE LOCKPATH COROSYNC CONF\n")
        return 2
    pid_file, lock_path, corosync, conf = argv
    mount = find_tool("mount") or "mount"
    # private first: util-linux before 2.27 (CentOS 7 dom0s) has no unshare --propagation
    for args in (["--make-rprivate", "/"], ["--bind", pid_file, lock_path]):
        result = runner.run([mount] + args, timeout=30)
        if not result.ok:
            sys.stderr.write("launch: mount %s: %s\n" % (" ".join(args), result.describe()))
            return 2
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execv(corosync, [corosync, "-c", conf])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
