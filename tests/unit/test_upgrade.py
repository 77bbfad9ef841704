"""The xhad upgrade: plan, apply, re-run, resume after an interruption, conflicts."""

import os
import shutil

import pytest

from sm_clusterstack.stacks import upgrade

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(REPO, "libexec", "xapi", "cluster-stack", "xhad")
TOOLS = ["ha_query_liveset", "ha_start_daemon", "xhad", "writestatefile"]


@pytest.fixture
def host(tmp_path):
    """A legacy xhad directory with real tools and a root with the shipped wrappers."""
    legacy, root = tmp_path / "opt-xha", tmp_path / "root"
    legacy.mkdir()
    for name in TOOLS:
        path = legacy / name
        path.write_text("#!/bin/sh\necho real %s\n" % name)
        path.chmod(0o775)
    (legacy / "subdir").mkdir()
    shutil.copytree(SHIPPED, str(root / "xhad"))
    return str(legacy), str(root)


def actions(steps):
    return [(s.action, os.path.basename(s.source)) for s in steps]


def test_first_plan_moves_every_regular_file_and_skips_the_rest(host):
    legacy, root = host
    assert actions(upgrade.plan(root, legacy)) == [
        ("move", "ha_query_liveset"), ("move", "ha_start_daemon"), ("skip", "subdir"),
        ("move", "writestatefile"), ("move", "xhad")]


def test_apply_moves_tools_over_wrappers_and_leaves_links(host):
    legacy, root = host
    upgrade.apply(upgrade.plan(root, legacy))
    for name in TOOLS:
        moved, old = os.path.join(root, "xhad", name), os.path.join(legacy, name)
        assert open(moved).read() == "#!/bin/sh\necho real %s\n" % name
        assert os.path.islink(old) and os.path.realpath(old) == os.path.realpath(moved)
        assert oct(os.stat(moved).st_mode & 0o777) == oct(0o755)
    assert upgrade.is_wrapper(os.path.join(root, "xhad", "ha_stop_daemon"))


def test_second_run_plans_nothing_and_changes_nothing(host):
    legacy, root = host
    upgrade.apply(upgrade.plan(root, legacy))
    before = {n: os.stat(os.path.join(root, "xhad", n)).st_ino for n in os.listdir(os.path.join(root, "xhad"))}
    steps = upgrade.plan(root, legacy)
    assert not [s for s in steps if s.action in upgrade.CHANGES]
    upgrade.apply(steps)
    after = {n: os.stat(os.path.join(root, "xhad", n)).st_ino for n in os.listdir(os.path.join(root, "xhad"))}
    assert after == before
    assert open(os.path.join(root, "xhad", "ha_query_liveset")).read().startswith("#!/bin/sh\necho real")


def test_interrupted_run_is_finished_by_running_again(host, monkeypatch):
    legacy, root = host
    real_symlink, calls = os.symlink, []

    def failing_symlink(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_symlink(src, dst)
    monkeypatch.setattr(os, "symlink", failing_symlink)
    with pytest.raises(upgrade.UpgradeError, match="No space left"):
        upgrade.apply(upgrade.plan(root, legacy))
    monkeypatch.setattr(os, "symlink", real_symlink)
    assert actions(upgrade.plan(root, legacy))[:2] == [("done", "ha_query_liveset"), ("link", "ha_start_daemon")]
    upgrade.apply(upgrade.plan(root, legacy))
    assert all(os.path.islink(os.path.join(legacy, n)) for n in TOOLS)
    assert sorted(os.listdir(os.path.join(root, "xhad"))) == sorted(set(os.listdir(SHIPPED)) | set(TOOLS))


def test_leftover_temporary_files_are_cleaned(host):
    legacy, root = host
    stray = os.path.join(root, "xhad", "xhad" + upgrade.TMP_SUFFIX)
    open(stray, "w").close()
    steps = upgrade.plan(root, legacy)
    assert ("clean", stray) in [(s.action, s.target) for s in steps]
    upgrade.apply(steps)
    assert not os.path.exists(stray)


def test_a_different_real_tool_in_the_root_is_a_conflict_never_overwritten(host):
    legacy, root = host
    target = os.path.join(root, "xhad", "xhad")
    with open(target, "w") as f:
        f.write("#!/bin/sh\necho another xhad\n")
    step = upgrade.plan_one(os.path.join(legacy, "xhad"), target)
    assert step.action == "conflict" and "differs" in step.describe()


def test_link_elsewhere_is_left_alone(host, tmp_path):
    legacy, root = host
    os.symlink(str(tmp_path), os.path.join(legacy, "elsewhere"))
    assert ("skip", "elsewhere") in actions(upgrade.plan(root, legacy))


def test_missing_supported_srs_file_is_written(host):
    legacy, root = host
    os.unlink(os.path.join(root, "xhad", "ha_supported_srs"))
    steps = upgrade.plan(root, legacy)
    assert steps[0].action == "write"
    upgrade.apply(steps)
    assert open(os.path.join(root, "xhad", "ha_supported_srs")).read().split() == [
        "lvm", "lvmoiscsi", "lvmohba", "nfs"]


def test_no_legacy_directory_means_nothing_to_move(host, tmp_path):
    _legacy, root = host
    assert upgrade.plan(root, str(tmp_path / "absent")) == []


def test_shipped_wrappers_are_recognised_and_real_tools_are_not(host):
    legacy, root = host
    assert all(upgrade.is_wrapper(os.path.join(SHIPPED, s)) for s in os.listdir(SHIPPED) if s.startswith("ha_")
               and s != "ha_supported_srs")
    assert not upgrade.is_wrapper(os.path.join(legacy, "xhad"))


@pytest.mark.parametrize("how", ["same path", "link to the stack"])
def test_legacy_dir_that_is_the_stack_itself_is_left_alone(host, tmp_path, how):
    """Linking a file to itself would destroy xhad's tools: nothing is planned, nothing changes."""
    legacy, root = host
    upgrade.apply(upgrade.plan(root, legacy))
    stack = os.path.join(root, "xhad")
    before = {n: open(os.path.join(stack, n), "rb").read() for n in os.listdir(stack)}
    if how == "same path":
        legacy_dir = stack
    else:
        legacy_dir = str(tmp_path / "xha-link")
        os.symlink(stack, legacy_dir)
    assert [s for s in upgrade.plan(root, legacy_dir) if s.action not in ("done",)] == []
    upgrade.apply(upgrade.plan(root, legacy_dir))
    assert {n: open(os.path.join(stack, n), "rb").read() for n in os.listdir(stack)} == before


def test_one_file_under_two_names_is_done_not_linked(tmp_path):
    a = tmp_path / "a"
    a.write_text("real")
    os.link(str(a), str(tmp_path / "b"))
    assert upgrade.plan_one(str(a), str(tmp_path / "b")).action == "done"
