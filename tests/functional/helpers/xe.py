"""Helpers of the xe, task, log and ``ha`` command tests: sandboxed pools named ``s15-<pid>-<n>``, xe as a process.

A sandboxed pool is helpers.shim's fixture pool served with ``--sandbox``
(each host a host sandbox: network and mount namespaces), its namespaces
named with this test area's prefix so that parallel test runs never meet.
"""

import os
import subprocess
import sys

from helpers import sandbox_prefix
from helpers.shim import Pool


def prefix():
    """A namespace prefix of ours: s15, the pid, a counter."""
    return sandbox_prefix("s15")


class SandboxedPool(Pool):
    """helpers.shim.Pool served with --sandbox under our prefix; stop() removes the sandboxes."""

    def __init__(self, tmp, hosts=2, extra=()):
        super(SandboxedPool, self).__init__(tmp, hosts=hosts, sandbox=False)
        self.server.extra = ["--sandbox", "--sandbox-prefix", prefix()] + list(extra)

    def stop(self):
        try:
            super(SandboxedPool, self).stop()
        finally:
            self.server.remove_sandboxes()


def run_xe(args, env=None, home=None):
    """``sm-clusterstack xe ARGS`` with HOME set (no ~/.xe unless the test writes one); (rc, out, err)."""
    environ = {k: v for k, v in os.environ.items() if k != "SM_CLUSTERSTACK_STATE"}
    environ["HOME"] = home or os.devnull
    environ.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "xe"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, env=environ)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def xe_server(pool, *args, **kw):
    """xe against the pool's running serve, logged in with its password file."""
    return run_xe(["-s", pool.server.url, "--password-file", pool.server.password_file] + list(args), **kw)


def without_progress(err):
    """stderr without the progress bar (cli_progress_bar.ml: \\r-redrawn, then "Total time: ...")."""
    if "\nTotal time: " not in err:
        return err
    return err.split("\nTotal time: ", 1)[1].split("\n", 1)[1]
