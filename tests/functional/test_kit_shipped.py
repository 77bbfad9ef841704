"""The kit passes the drivers and cluster stacks the project ships (what `make run` shows).

The corosync-ha stack's live checks run where corosync is installed and may
run; where a stack finds its engine absent (xhad here, corosync-ha where corosync is missing)
they are reported SKIP with the stack's reason, never PASS and never FAIL.
"""

import glob
import os

import pytest

from sm_clusterstack.kit import check, report
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import stack_live

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVERS = sorted(glob.glob(os.path.join(TOP, "drivers", "*SR")))
STACKS = check.stack_dirs(os.path.join(TOP, "libexec", "xapi", "cluster-stack"))


def _options(tmp_path):
    return check.Options(sandbox_parent=str(tmp_path), owner_uid=os.stat(TOP).st_uid)


@pytest.mark.parametrize("path", DRIVERS, ids=[os.path.basename(p) for p in DRIVERS])
def test_shipped_driver_passes_the_kit(tmp_path, path):
    suite = check.check_driver(path, _options(tmp_path))
    print(report.table([suite]))
    assert suite.failing() == []
    assert suite.count(res.SKIP) <= 1  # only attach-exclusion, for a driver without constraint


@pytest.mark.parametrize("path", STACKS, ids=[os.path.basename(p) for p in STACKS])
def test_shipped_stack_passes_the_kit(tmp_path, path):
    suite = check.check_stack(path, _options(tmp_path))
    print(report.table([suite]))
    assert suite.failing() == []
    for check_id in stack_live.IDS:
        found = suite.get(check_id)
        assert found.result == res.PASS or found.detail.startswith("engine absent"), found


def test_the_project_ships_three_drivers_and_two_stacks():
    assert [os.path.basename(p) for p in DRIVERS] == ["LVMSR", "MelioSR", "OCFS2SR"]
    assert [os.path.basename(p) for p in STACKS] == ["corosync-ha", "xhad"]
