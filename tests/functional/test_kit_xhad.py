"""The real xhad (xenserver/xha, built here) through the kit: it passes every stack check.

Built twice from ``shared/thirdparty/xha`` (see xhad_build): as xha ships
it (everything in /usr/libexec/xapi/cluster-stack/xhad), and for the legacy
directory /opt/xensource/xha.  Checked on one and two sandboxed hosts as
it ships, and through the project's shipped ``xhad`` stack in both layouts
of the seed's upgrade: before ``sm-clusterstack upgrade`` (the wrappers run
the tools from /opt/xensource/xha, laid there on each host) and after it
(the tools moved into the root, links left in the legacy directory).
"""

import os
import shutil
import sys

import pytest

from sm_clusterstack import runner
from sm_clusterstack.kit import result as res
from sm_clusterstack.stacks import upgrade

from helpers import xhad_build
from helpers.kit import check_stack, sandbox_skip_reason

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "libexec", "xapi", "cluster-stack", "xhad")

pytestmark = [pytest.mark.skipif(bool(sandbox_skip_reason() or xhad_build.skip_reason()),
                                 reason=sandbox_skip_reason() or xhad_build.skip_reason() or "-"),
              pytest.mark.slow(35)]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("xha"))
    return {layout: xhad_build.build(work, layout) for layout in ("modern", "legacy")}


def every_check_passed(suite):
    assert [(r.check, r.result, r.detail) for r in suite.results if r.result != res.PASS] == []
    assert len(suite.results) == 19


@pytest.mark.slow(70)  # two hosts: their pool starts twice
@pytest.mark.parametrize("hosts", [1, 2])
def test_real_xhad_passes_every_stack_check(tmp_path, builds, hosts):
    suite = check_stack(tmp_path, builds["modern"], hosts=hosts)
    every_check_passed(suite)
    assert "statefile_active_list" in "".join(r.stdout for r in suite.results)  # it really was xhad talking


@pytest.mark.slow(70)
def test_real_xhad_passes_every_stack_check_on_ipv6_only_hosts(tmp_path, builds):
    """``kit --ipv6``: the stack's hosts have IPv6 management addresses only, xhad.conf lists them."""
    suite = check_stack(tmp_path, builds["modern"], hosts=2, ipv6=True)
    every_check_passed(suite)


def _shipped_root(tmp_path):
    root = tmp_path / "cluster-stack"
    root.mkdir(mode=0o755)
    shutil.copytree(SHIPPED, str(root / "xhad"))
    return str(root)


def test_shipped_xhad_stack_runs_the_real_xhad_from_the_legacy_directory_before_upgrade(tmp_path, builds):
    root = _shipped_root(tmp_path)
    assert upgrade.is_wrapper(os.path.join(root, "xhad", "ha_start_daemon"))
    suite = check_stack(tmp_path, os.path.join(root, "xhad"), host_paths={xhad_build.LEGACY_DIR: builds["legacy"]})
    every_check_passed(suite)


def test_shipped_xhad_stack_after_upgrade_runs_the_moved_tools(tmp_path, builds):
    root = _shipped_root(tmp_path)
    legacy = str(tmp_path / "legacy")
    shutil.copytree(builds["legacy"], legacy, symlinks=True)
    result = runner.run([sys.executable, "-m", "sm_clusterstack.cli", "upgrade", "--root", root,
                         "--legacy-dir", legacy], timeout=60)
    assert result.ok, result.describe()
    assert not upgrade.is_wrapper(os.path.join(root, "xhad", "ha_start_daemon"))
    assert os.path.islink(os.path.join(legacy, "ha_rc"))
    suite = check_stack(tmp_path, os.path.join(root, "xhad"), host_paths={xhad_build.LEGACY_DIR: legacy})
    every_check_passed(suite)
