"""The cluster-stack root: names, discovery, ha_supported_srs, safety, script runs."""

import os

import pytest

from sm_clusterstack import errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.stacks import mtc, scripts


def make_stack(root, name, files=("ha_start_daemon",), supported=None, mode=0o755):
    path = root.joinpath(name)
    path.mkdir(parents=True)
    path.chmod(mode)
    for script in files:
        f = path.joinpath(script)
        f.write_text("#!/bin/sh\nexit 0\n")
        f.chmod(0o755)
    if supported is not None:
        path.joinpath(stacks.SUPPORTED_SRS_FILE).write_text(supported)
        path.joinpath(stacks.SUPPORTED_SRS_FILE).chmod(0o644)
    return str(path)


def test_installed_stacks_are_valid_named_directories(tmp_path):
    make_stack(tmp_path, "xhad")
    make_stack(tmp_path, "corosync")
    make_stack(tmp_path, ".hidden")
    tmp_path.joinpath("afile").write_text("")
    assert stacks.installed_stacks(str(tmp_path)) == ["corosync", "xhad"]


def test_missing_root_has_no_stacks(tmp_path):
    assert stacks.installed_stacks(str(tmp_path / "absent")) == []


@pytest.mark.parametrize("name", ["../x", "a/b", ".", "", "x" * 200, "\u00e9"])
def test_stack_dir_refuses_names_that_are_not_one_component(tmp_path, name):
    with pytest.raises(XenAPIError) as info:
        stacks.stack_dir(str(tmp_path), name)
    assert (info.value.code, info.value.params) == (errors.UNKNOWN_CLUSTER_STACK, (name,))


def test_is_installed_false_for_path_escape(tmp_path):
    make_stack(tmp_path, "inner")
    assert stacks.is_installed(str(tmp_path), "inner")
    assert not stacks.is_installed(str(tmp_path / "inner"), "..")


def test_supported_srs_absent_file_means_any(tmp_path):
    make_stack(tmp_path, "xhad")
    assert stacks.supported_srs(str(tmp_path), "xhad") is None


def test_supported_srs_lists_types_split_on_white_space(tmp_path):
    make_stack(tmp_path, "xhad", supported="lvm lvmoiscsi\n lvmohba\tnfs\n")
    assert stacks.supported_srs(str(tmp_path), "xhad") == ["lvm", "lvmoiscsi", "lvmohba", "nfs"]


def test_supported_srs_empty_file_allows_no_type(tmp_path):
    make_stack(tmp_path, "strict", supported="")
    assert stacks.supported_srs(str(tmp_path), "strict") == []


def test_supported_srs_with_bad_type_name_is_an_error_naming_the_file(tmp_path):
    path = make_stack(tmp_path, "bad", supported="lvm ../nfs\n")
    with pytest.raises(stacks.StackError) as info:
        stacks.supported_srs(str(tmp_path), "bad")
    assert path in str(info.value)


def test_safe_stack_has_no_problems(tmp_path):
    path = make_stack(tmp_path, "ok")
    assert stacks.safety_problems(path) == []


def test_world_writable_stack_directory_is_unsafe_and_named(tmp_path):
    path = make_stack(tmp_path, "open", mode=0o777)
    problems = stacks.safety_problems(path)
    assert len(problems) == 1 and problems[0].startswith(path + ":")


def test_group_writable_script_is_unsafe(tmp_path):
    path = make_stack(tmp_path, "grp")
    os.chmod(os.path.join(path, "ha_start_daemon"), 0o775)
    assert [p.split(":")[0] for p in stacks.safety_problems(path)] == [os.path.join(path, "ha_start_daemon")]


def test_stack_not_owned_by_expected_user_is_unsafe(tmp_path):
    path = make_stack(tmp_path, "owned")
    problems = stacks.safety_problems(path, owner_uid=os.getuid() + 1)
    assert problems and all("owned by uid" in p for p in problems)


def test_world_writable_stack_is_refused_before_anything_runs(tmp_path, fake_runner):
    path = make_stack(tmp_path, "open", mode=0o777)
    with pytest.raises(stacks.StackError):
        scripts.run_script(path, "ha_start_daemon", run=fake_runner, owner_uid=os.getuid())
    assert fake_runner.calls == []


def test_run_script_gives_only_path_with_the_stack_dir_appended(tmp_path, fake_runner, monkeypatch):
    """``ocaml/xapi/xha_scripts.ml`` ``call_script``: env is exactly ``PATH=<PATH>:<stack dir>``, no ``-C``."""
    path = make_stack(tmp_path, "xhad")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("SM_CLUSTERSTACK_FENCE_ACTION", "touch /x")
    fake_runner.expect([os.path.join(path, "ha_start_daemon")])
    scripts.run_script(path, "ha_start_daemon", run=fake_runner, owner_uid=os.getuid())
    assert fake_runner.calls[0][1] == {"PATH": "/usr/bin:/bin" + os.pathsep + path}


def test_run_script_in_a_sandbox_names_the_stack_dir_as_seen_there(tmp_path, fake_runner, monkeypatch):
    path = make_stack(tmp_path, "xhad")
    monkeypatch.setenv("PATH", "/usr/bin")
    inside = "/usr/libexec/xapi/cluster-stack/xhad"
    fake_runner.expect([inside + "/ha_start_daemon"])
    scripts.run_script(path, "ha_start_daemon", run=fake_runner, owner_uid=os.getuid(), path_inside=inside)
    assert fake_runner.calls[0][1] == {"PATH": "/usr/bin:" + inside}


def test_script_exit_14_is_reported_as_daemon_is_not_present(tmp_path, fake_runner):
    path = make_stack(tmp_path, "xhad", files=("ha_query_liveset",))
    fake_runner.expect([os.path.join(path, "ha_query_liveset")], returncode=14, stderr="no daemon\n")
    with pytest.raises(scripts.StackScriptError) as info:
        scripts.run_script(path, "ha_query_liveset", run=fake_runner, owner_uid=os.getuid())
    assert (info.value.returncode, info.value.mtc_name) == (14, "DAEMON_IS_NOT_PRESENT")
    assert "no daemon" in str(info.value)


def test_script_timeout_is_reported_as_timeout(tmp_path, fake_runner):
    path = make_stack(tmp_path, "xhad", files=("ha_stop_daemon",))
    fake_runner.expect([os.path.join(path, "ha_stop_daemon")], returncode=None, timed_out=True)
    with pytest.raises(scripts.StackScriptError) as info:
        scripts.run_script(path, "ha_stop_daemon", timeout=1, run=fake_runner, owner_uid=os.getuid())
    assert info.value.mtc_name == "TIMEOUT"


def test_only_interface_scripts_may_be_run(tmp_path, fake_runner):
    path = make_stack(tmp_path, "xhad")
    with pytest.raises(stacks.StackError):
        scripts.run_script(path, "../../bin/sh", run=fake_runner, owner_uid=os.getuid())


@pytest.mark.parametrize("code, name", [(0, "SUCCESS"), (1, "INVALID_PARAMETER"), (9, "INVALID_STATE_FILE"),
                                        (14, "DAEMON_IS_NOT_PRESENT"), (19, "SET_EXCLUDED"),
                                        (127, "INTERNAL_BUG"), (42, "UNKNOWN_42"), (-9, "KILLED_BY_SIGNAL_9")])
def test_mtc_names(code, name):
    assert mtc.name_of(code) == name


def test_describe_reports_scripts_supported_srs_and_problems(tmp_path):
    make_stack(tmp_path, "half", files=stacks.SCRIPTS[:3], supported="ocfs2\n", mode=0o757)
    info = stacks.describe(str(tmp_path), "half")
    assert info.present == list(stacks.SCRIPTS[:3])
    assert info.missing == list(stacks.SCRIPTS[3:])
    assert info.supported_srs == ["ocfs2"]
    assert len(info.problems) == 1


def test_path_problems_checks_every_component_and_follows_links_through_their_targets(tmp_path):
    base = str(tmp_path)
    open_dir, sticky, safe = (os.path.join(base, n) for n in ("open", "sticky", "safe"))
    for path, mode in ((open_dir, 0o777), (sticky, 0o1777), (safe, 0o755)):
        os.mkdir(path)
        os.chmod(path, mode)
    for where in (open_dir, sticky):
        with open(os.path.join(where, "tool"), "w"):
            pass
    assert stacks.path_problems(os.path.join(sticky, "tool")) == []
    assert stacks.path_problems(os.path.join(open_dir, "tool")) == [
        open_dir + ": group or world writable (mode 0777)"]
    os.symlink(os.path.join("..", "open", "tool"), os.path.join(safe, "link"))
    assert stacks.path_problems(os.path.join(safe, "link")) == [open_dir + ": group or world writable (mode 0777)"]
    os.chmod(sticky, 0o1777)
    assert stacks.path_problems(sticky) == [sticky + ": group or world writable (mode 1777)"]  # the path itself


def test_path_problems_stops_at_a_link_loop(tmp_path):
    os.symlink("b", str(tmp_path / "a"))
    os.symlink("a", str(tmp_path / "b"))
    assert "more than 40 symbolic links" in stacks.path_problems(str(tmp_path / "a"))[-1]


def test_a_stack_that_is_a_link_is_unsafe(tmp_path):
    path = make_stack(tmp_path, "real")
    os.symlink(path, str(tmp_path / "linked"))
    assert stacks.safety_problems(str(tmp_path / "linked"))[0].endswith("a symbolic link; a stack must be a "
                                                                        "directory in the cluster-stack root")
