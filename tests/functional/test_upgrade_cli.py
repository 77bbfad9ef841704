"""``sm-clusterstack upgrade`` as a process, and the shipped xhad wrappers before and after it."""

import os
import shutil
import sqlite3
import sys

import pytest

from helpers.shim import write_version_1_store
from sm_clusterstack import runner, stacks
from sm_clusterstack.stacks import mtc
from sm_clusterstack.xapi.db import schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(REPO, "libexec", "xapi", "cluster-stack", "xhad")
REAL_TOOL = "#!/bin/sh\necho \"real $(basename \"$0\") $*\"\nexit 3\n"


@pytest.fixture
def host(tmp_path):
    """A legacy xhad directory holding real (recording) tools, and a root with the shipped layout."""
    legacy, root = tmp_path / "opt-xha", tmp_path / "root"
    legacy.mkdir()
    for name in stacks.SCRIPTS + ("xhad",):
        (legacy / name).write_text(REAL_TOOL)
        (legacy / name).chmod(0o755)
    shutil.copytree(SHIPPED, str(root / "xhad"))
    return str(legacy), str(root)


def cli(*args):
    return runner.run([sys.executable, "-m", "sm_clusterstack.cli"] + list(args), timeout=60)


def script(root, name, legacy, *args):
    env = dict(os.environ, SM_CLUSTERSTACK_XHA_LEGACY_DIR=legacy)
    return runner.run([os.path.join(root, "xhad", name)] + list(args), timeout=30, env=env)


def test_shipped_xhad_layout_is_complete_and_safe():
    info = stacks.describe(os.path.dirname(SHIPPED), "xhad", owner_uid=os.stat(SHIPPED).st_uid)
    assert (info.missing, info.problems, info.supported_srs) == ([], [], ["lvm", "lvmoiscsi", "lvmohba", "nfs"])


def test_wrapper_runs_the_legacy_tool_with_its_arguments_and_exit_status(host):
    legacy, root = host
    result = script(root, "ha_set_pool_state", legacy, "init", "-C", "/x")
    assert (result.returncode, result.stdout) == (3, "real ha_set_pool_state init -C /x\n")


def test_wrapper_without_xhad_is_invalid_environment(host, tmp_path):
    _legacy, root = host
    result = script(root, "ha_query_liveset", str(tmp_path / "absent"))
    assert result.returncode == mtc.INVALID_ENVIRONMENT and "xhad is not installed" in result.stderr


def test_wrapper_that_would_run_itself_is_invalid_environment(host):
    legacy, root = host
    os.unlink(os.path.join(legacy, "ha_query_liveset"))
    os.symlink(os.path.join(root, "xhad", "ha_query_liveset"), os.path.join(legacy, "ha_query_liveset"))
    result = script(root, "ha_query_liveset", legacy)
    assert result.returncode == mtc.INVALID_ENVIRONMENT and "leads back" in result.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(host):
    legacy, root = host
    before = sorted(os.listdir(legacy)), open(os.path.join(root, "xhad", "ha_start_daemon")).read()
    result = cli("upgrade", "--root", root, "--legacy-dir", legacy, "--dry-run")
    assert result.ok, result.stderr
    assert result.stdout.count("would move ") == len(stacks.SCRIPTS) + 1
    assert (sorted(os.listdir(legacy)), open(os.path.join(root, "xhad", "ha_start_daemon")).read()) == before
    assert not any(os.path.islink(os.path.join(legacy, n)) for n in os.listdir(legacy))


def test_upgrade_moves_xhad_and_the_old_paths_still_work(host):
    legacy, root = host
    assert cli("upgrade", "--root", root, "--legacy-dir", legacy).ok
    for name in stacks.SCRIPTS:
        assert os.path.islink(os.path.join(legacy, name))
        result = runner.run([os.path.join(legacy, name), "a"], timeout=30)
        assert (result.returncode, result.stdout) == (3, "real %s a\n" % name)
    info = stacks.describe(root, "xhad", owner_uid=os.getuid())
    assert (info.missing, info.problems) == ([], [])


def test_second_upgrade_says_nothing_to_do_and_keeps_the_real_tools(host):
    legacy, root = host
    assert cli("upgrade", "--root", root, "--legacy-dir", legacy).ok
    again = cli("upgrade", "--root", root, "--legacy-dir", legacy)
    assert again.ok and "nothing to do" in again.stdout and "would" not in again.stdout
    assert open(os.path.join(root, "xhad", "ha_start_daemon")).read() == REAL_TOOL


def test_conflicting_file_fails_the_upgrade_but_moves_the_others(host):
    legacy, root = host
    with open(os.path.join(root, "xhad", "xhad"), "w") as f:
        f.write("#!/bin/sh\necho a different xhad\n")
    result = cli("upgrade", "--root", root, "--legacy-dir", legacy)
    assert result.returncode == 1 and "conflict" in result.stdout
    assert not os.path.islink(os.path.join(legacy, "xhad"))
    assert os.path.islink(os.path.join(legacy, "ha_start_daemon"))


def stored(state_dir, sql):
    conn = sqlite3.connect(os.path.join(state_dir, "pool.db"))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_upgrade_with_state_sets_ha_cluster_stack_to_xhad(host, tmp_path):
    legacy, root = host
    state = str(tmp_path / "state")
    write_version_1_store(state)
    dry = cli("upgrade", "--root", root, "--legacy-dir", legacy, "--state", state, "--dry-run")
    assert dry.ok and "would migrate store" in dry.stdout
    assert stored(state, "PRAGMA user_version") == [(1,)]
    result = cli("upgrade", "--root", root, "--legacy-dir", legacy, "--state", state)
    assert result.ok, result.stderr
    assert stored(state, "SELECT ha_cluster_stack FROM pool") == [("xhad",)]
    assert stored(state, "PRAGMA user_version") == [(schema.LATEST,)]


def test_upgrade_leaves_a_chosen_stack_alone_and_fills_an_empty_one(host, tmp_path):
    legacy, root = host
    state = str(tmp_path / "state")
    write_version_1_store(state)
    assert cli("upgrade", "--root", root, "--legacy-dir", legacy, "--state", state).ok
    conn = sqlite3.connect(os.path.join(state, "pool.db"))
    conn.execute("INSERT INTO pool (ref, uuid, master, ha_cluster_stack) VALUES "
                 "('OpaqueRef:q', 'v', 'OpaqueRef:h', ''), ('OpaqueRef:r', 'w', 'OpaqueRef:h', 'corosync')")
    conn.commit()
    conn.close()
    assert "would set ha_cluster_stack to xhad on 1 pool" in cli(
        "upgrade", "--root", root, "--legacy-dir", legacy, "--state", state, "--dry-run").stdout
    assert cli("upgrade", "--root", root, "--legacy-dir", legacy, "--state", state).ok
    assert stored(state, "SELECT ref, ha_cluster_stack FROM pool ORDER BY ref") == [
        ("OpaqueRef:p", "xhad"), ("OpaqueRef:q", "xhad"), ("OpaqueRef:r", "corosync")]


def test_upgrade_with_a_missing_store_fails_clearly(host, tmp_path):
    legacy, root = host
    result = cli("upgrade", "--root", root, "--legacy-dir", legacy, "--state", str(tmp_path / "none"))
    assert result.returncode == 1 and "no store" in result.stderr
