"""bench/ha_scale's quick mode runs, so the benchmark cannot rot between its full runs.

One 3-host corosync-ha pool (host sandboxes, the shim as xapi), no cut: the
run must measure every figure it prints for that pool (enable, all live,
CPU, memory) from real processes, not leave them out.
"""

import os
import re
import subprocess
import sys

import pytest

from helpers import REPO
from helpers.ha_pools import skip_reason

BENCH = os.path.join(REPO, "bench", "ha_scale")


@pytest.mark.slow(17)
def test_quick_run_measures_a_3_host_corosync_ha_pool():
    reason = skip_reason("corosync-ha")
    if reason:
        pytest.skip(reason)
    done = subprocess.run([sys.executable, BENCH, "--quick", "--stacks", "corosync-ha", "--timeout", "90"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    row = re.search(r"^  corosync-ha +3 +" + r"(\S+) +" * 6 + r"- +- +\S+ +per host by process: (.*)$", out, re.M)
    assert row, out
    enable, enable_cpu, live, cpu, pss, rss, processes = row.groups()
    assert enable.endswith("s") and enable_cpu.endswith("s") and live.endswith("s") and cpu.endswith("%"), out
    assert 0 < float(pss[:-2]) <= float(rss[:-2]), out
    assert [p.split()[0] for p in processes.split(", ")] == ["corosync", "smcs-guard", "smcs-monitor"], out
