"""``make compat``: the kit of ``make run``, under Python 3.6 as a dom0 runs it, passes every check ``make run`` passes.

The kit, the shipped drivers and corosync-ha are those ``make py36``
installed (helpers.py36: ``.venv36``'s site-packages, ``#!`` lines naming
its interpreter), run with xapi's PATH and nothing else: no venv, no
PYTHONPATH.  As in ``make run``, the real xhad (``make xhad``) stands in for
the shipped xhad wrappers where it is built; the wrappers' checks are then
what test_kit_shipped says of them.
"""

import glob
import os

import pytest
from lxml import etree

from sm_clusterstack import runner

from helpers import py36
from helpers.ha_pools import XHA_STACK_ROOT
from helpers.kit import sandbox_skip_reason

pytestmark = [pytest.mark.skipif(bool(sandbox_skip_reason()), reason=sandbox_skip_reason() or "-"),
              pytest.mark.slow(110)]
ONLY_SKIP = ("driver.LVMSR", "driver.attach-exclusion")  # no constraint: every stack is compatible


def verdicts(junit):
    """(suite, check, verdict) of every check in the kit's JUnit file."""
    with open(junit, "rb") as f:
        document = etree.fromstring(f.read())
    found = []
    for suite in document.iter("testsuite"):
        for case in suite.iter("testcase"):
            verdict = next((tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None), "pass")
            found.append((suite.get("name"), case.get("name"), verdict))
    return found


def test_make_runs_kit_passes_under_python_3_6_from_the_installed_tree(tmp_path, py36_tree):
    real_xhad = os.path.join(XHA_STACK_ROOT, "xhad")
    xhad = real_xhad if os.path.isfile(os.path.join(real_xhad, "xhad")) else os.path.join(py36.STACK_ROOT, "xhad")
    targets = [word for path in sorted(glob.glob(os.path.join(py36.SM_DIR, "*SR"))) for word in ("driver", path)]
    targets += ["stack", os.path.join(py36.STACK_ROOT, "corosync-ha"), "stack", xhad]
    junit = str(tmp_path / "kit.xml")
    result = runner.run([py36.COMMAND, "kit", "--ha-timeout", "10", "--junit", junit] + targets, timeout=1200,
                        env={"PATH": py36.XAPI_PATH, "TMPDIR": str(tmp_path)})
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.describe()
    found = verdicts(junit)
    assert [suite for suite, _check, _verdict in found if suite.startswith("driver.")] and len(found) == 65
    assert [(s, c, v) for s, c, v in found if v in ("failure", "error")] == []
    skipped = [(s, c) for s, c, v in found if v == "skipped" and not (s == "stack.xhad" and xhad != real_xhad)]
    assert skipped == [ONLY_SKIP]
