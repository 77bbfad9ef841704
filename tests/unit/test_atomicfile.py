"""Replacing a file whole (``atomicfile``): content, mode, leftovers, failures, links, fsync."""

import os
import stat

import pytest

from sm_clusterstack import atomicfile


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o077)
    yield 0o077
    os.umask(old)


@pytest.mark.parametrize("data, content", [(b"\x00bytes\n", b"\x00bytes\n"), ("caf\u00e9\n", "caf\u00e9\n".encode())])
def test_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path, data, content):
    target = tmp_path / "f"
    target.write_bytes(b"old content, longer than the new")
    atomicfile.write(str(target), data)
    assert target.read_bytes() == content
    assert sorted(os.listdir(str(tmp_path))) == ["f"]


def test_mode_is_set_exactly_whatever_the_umask(tmp_path, umask):
    atomicfile.write(str(tmp_path / "f"), "x", mode=0o644)
    assert mode_of(tmp_path / "f") == 0o644


def test_no_mode_is_what_open_would_give(tmp_path, umask):
    atomicfile.write(str(tmp_path / "f"), "x")
    assert mode_of(tmp_path / "f") == 0o666 & ~umask


def test_a_leftover_temporary_file_is_replaced_never_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(str(victim), str(tmp_path / ("f" + atomicfile.SUFFIX)))
    atomicfile.write(str(tmp_path / "f"), "new", mode=0o600)
    assert victim.read_text() == "keep" and (tmp_path / "f").read_text() == "new"
    assert not os.path.lexists(str(tmp_path / ("f" + atomicfile.SUFFIX)))


def test_the_caller_s_suffix_names_the_temporary_file(tmp_path, monkeypatch):
    renamed = []
    real = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: renamed.append(a) or real(a, b))
    atomicfile.write(str(tmp_path / "f"), "x", suffix=".mine.7")
    assert renamed == [str(tmp_path / "f") + ".mine.7"]


def test_a_failed_rename_removes_the_temporary_file_and_raises(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inside").write_text("")
    with pytest.raises(OSError):
        atomicfile.write(str(tmp_path / "d"), "x")
    assert sorted(os.listdir(str(tmp_path))) == ["d"]


def test_symlink_replaces_a_file_with_a_link(tmp_path):
    (tmp_path / "link").write_text("was a file")
    atomicfile.symlink("/somewhere/else", str(tmp_path / "link"))
    assert os.readlink(str(tmp_path / "link")) == "/somewhere/else"
    assert sorted(os.listdir(str(tmp_path))) == ["link"]


@pytest.mark.parametrize("sync, sync_dir, synced", [
    (False, False, []), (True, False, ["file"]), (False, True, ["dir"]), (True, True, ["file", "dir"]),
])
def test_fsync_only_where_asked(tmp_path, monkeypatch, sync, sync_dir, synced):
    seen = []
    monkeypatch.setattr(os, "fsync", lambda fd: seen.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
    atomicfile.write(str(tmp_path / "f"), "x", sync=sync, sync_dir=sync_dir)
    assert seen == synced
