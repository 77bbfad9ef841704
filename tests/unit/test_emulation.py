"""Storage emulation: what a kernel lacks (read from files a test writes), and the emulators' one-line failures."""

import json
import os

import pytest

from sm_clusterstack.emulation import kernel, pool, tools


def machine(tmp_path, filesystems="nodev\tsysfs\n", misc="229 fuse\n", modules=(), tools_on_path=()):
    """A Machine whose /proc files, module tree and PATH are the test's own."""
    (tmp_path / "filesystems").write_text(filesystems)
    (tmp_path / "misc").write_text(misc)
    for name in modules:
        path = tmp_path / "modules" / "kernel" / "fs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in tools_on_path:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "loop-control").write_text("")
    return kernel.Machine(str(tmp_path / "filesystems"), str(tmp_path / "modules"), str(tmp_path / "misc"),
                          str(tmp_path / "loop-control"), [str(bin_dir)])


def emulated(found):
    return [tool for gap in found for tool in gap.tools]


def test_a_kernel_without_ocfs2_device_mapper_or_melio_gets_every_emulator(tmp_path):
    found = kernel.gaps(machine(tmp_path))
    assert emulated(found) == ["mount", "umount", "lvcreate", "lvremove", "melioctl"]
    assert "no ocfs2" in found[0].why and "no device-mapper" in found[1].why and "melioctl" in found[2].why


@pytest.mark.parametrize("facts,left", [
    ({"filesystems": "nodev\tsysfs\n\tocfs2\n"}, ["lvcreate", "lvremove", "melioctl"]),
    ({"modules": ["ocfs2.ko.xz"]}, ["lvcreate", "lvremove", "melioctl"]),
    ({"misc": "236 device-mapper\n"}, ["mount", "umount", "melioctl"]),
    ({"modules": ["dm-mod.ko"]}, ["mount", "umount", "melioctl"]),
    ({"tools_on_path": ["melioctl"]}, ["mount", "umount", "lvcreate", "lvremove"]),
], ids=["ocfs2-loaded", "ocfs2-module", "dm-registered", "dm-module", "melio-cli"])
def test_only_what_the_kernel_lacks_is_emulated(tmp_path, facts, left):
    assert emulated(kernel.gaps(machine(tmp_path, **facts))) == left


def test_a_device_mapper_node_the_kernel_never_registered_is_no_device_mapper(tmp_path):
    """/dev/mapper/control may exist on a kernel without device-mapper (this machine's): /proc/misc decides."""
    assert "lvcreate" in emulated(kernel.gaps(machine(tmp_path, misc="10 misc-node-only\n")))


def test_a_pools_commands_are_the_gaps_only_and_say_what_is_emulated(tmp_path):
    found = pool.prepare(str(tmp_path / "state"), machine(tmp_path, misc="236 device-mapper\n",
                                                          tools_on_path=["melioctl"]))
    assert sorted(os.listdir(found.bin)) == ["mount", "umount"]
    assert "storage EMULATED" in found.describe() and "mount/umount (no ocfs2" in found.describe()
    assert "lvcreate" not in found.describe().split(";")[0]
    assert found.path_for_drivers("/usr/bin") == found.bin + ":/usr/bin"


def test_an_emulator_without_settings_says_which_tool_and_why_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SM_FAKE_STATE", raising=False)
    monkeypatch.delenv("SM_FAKE_LOG", raising=False)
    missing = str(tmp_path / "nowhere.json")
    assert tools.main("melioctl", ["volume", "info", "--device", "/dev/x"], [missing]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("melioctl (emulated): no settings: ") and missing in err


def test_an_emulators_own_failure_is_one_line_naming_the_tool(tmp_path, monkeypatch, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"state": str(tmp_path / "state"), "log": str(tmp_path / "no-dir" / "log")}))
    monkeypatch.delenv("SM_FAKE_STATE", raising=False)
    assert tools.main("lvcreate", ["-n", "a", "-L", "8b", "vg"], [str(settings)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lvcreate (emulated): FileNotFoundError: "), err
