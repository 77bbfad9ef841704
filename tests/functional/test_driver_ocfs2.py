"""OCFS2SR end to end: real mkfs.ocfs2, tunefs.ocfs2, blkid and wipefs on a loop device.

Only ``mount -t ocfs2`` and its ``umount`` are emulated (no ocfs2 kernel
module here): tests/functional/helpers/fakebin records their argv and bind-mounts
a directory standing for the filesystem.  Each test below that attaches
says so.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from helpers.drivers import emulated_calls, environment, loop_device, new_uuid, run
from helpers.xapi_recorder import SESSION

STATEFILE_SIZE = 4 * 1024 * 1024


pytestmark = pytest.mark.xapi("ocfs2")  # the SR type of the conftest's recording xapi


@pytest.fixture
def device(tmp_path):
    with loop_device(tmp_path, 128) as path:
        yield path


class SR(object):
    """Calls on one OCFS2 SR, members as xapi fills them."""

    def __init__(self, tmp_path, xapi, device, sr_uuid=None):
        self.env = environment(tmp_path, emulators=True, xapi=xapi.path)
        self.device = device
        self.sr_uuid = sr_uuid or new_uuid()
        self.sr_ref = xapi.sr_ref

    def __call__(self, command, args=(), device_config=None, **members):
        members.setdefault("sr_uuid", self.sr_uuid)
        config = dict({"device": self.device, "SRmaster": "true"}, **(device_config or {}))
        return run("OCFS2SR", command, self.env, args=list(args), device_config=config,
                   session_ref=SESSION, sr_ref=self.sr_ref, **members)


def blkid(device):
    proc = subprocess.run(["blkid", "-p", "-o", "export", device], stdout=subprocess.PIPE)
    return dict(line.split("=", 1) for line in proc.stdout.decode().splitlines() if "=" in line)


def test_create_formats_ocfs2_for_corosync_with_the_sr_uuid_as_label(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    answer = sr("sr_create", ["0"], {"cluster_name": "pool-a"})
    assert answer.fault is None, answer.reason
    found = blkid(device)
    assert (found["TYPE"], found["LABEL"]) == ("ocfs2", "sr-" + sr.sr_uuid)
    stats = subprocess.run(["debugfs.ocfs2", "-R", "stats", device], stdout=subprocess.PIPE).stdout.decode()
    assert "Cluster stack: pcmk" in stats and "Cluster name: pool-a" in stats


def test_create_overwrites_an_existing_filesystem(tmp_path, xapi, device):
    subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True)
    sr = SR(tmp_path, xapi, device)
    assert sr("sr_create", ["0"]).fault is None
    assert SR(tmp_path, xapi, device)("sr_create", ["0"]).fault is None  # over an OCFS2 one too
    assert blkid(device)["TYPE"] == "ocfs2"


def test_probe_lists_the_sr_on_the_device(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    assert "<UUID>" not in sr("sr_probe").value
    sr("sr_create", ["0"])
    assert "<UUID>%s</UUID>" % sr.sr_uuid in sr("sr_probe").value


def test_lifecycle_with_a_statefile_vdi(tmp_path, xapi, device):
    """Emulated: ``mount -t ocfs2`` and ``umount``; everything else is the real tools."""
    sr = SR(tmp_path, xapi, device)
    assert sr("sr_create", ["0"]).fault is None
    assert sr("sr_attach").fault is None
    point = str(tmp_path / "sr-mount" / sr.sr_uuid)
    assert emulated_calls(tmp_path, "mount") == [["mount", "-t", "ocfs2", device, point]]
    created = sr("vdi_create", [str(STATEFILE_SIZE)], vdi_sm_config={"type": "raw"},
                 vdi_type="ha_statefile")
    assert created.fault is None, created.reason
    vdi = created.value["location"]
    attached = sr("vdi_attach", ["true"], vdi_location=vdi)
    assert os.path.getsize(attached.value["params"]) == STATEFILE_SIZE
    assert attached.value["params"].startswith(point + "/")
    assert sr("sr_update").fault is None
    assert xapi.recorder.records.srs[sr.sr_ref]["physical_size"] == str(128 * 1024 * 1024)
    assert sr("sr_delete").code == 39  # SRNotEmpty while the VDI is there
    assert sr("vdi_detach", vdi_location=vdi).fault is None
    assert sr("vdi_delete", vdi_location=vdi).fault is None
    assert sr("vdi_delete", vdi_location=vdi).code == 144  # VDIMissing
    assert sr("sr_detach").fault is None
    assert emulated_calls(tmp_path, "umount") == [["umount", point]]
    assert sr("sr_delete").fault is None
    assert blkid(device) == {}  # wipefs left no signature


def test_attach_refuses_a_device_holding_another_sr(tmp_path, xapi, device):
    SR(tmp_path, xapi, device)("sr_create", ["0"])
    answer = SR(tmp_path, xapi, device)("sr_attach")
    assert answer.code == 607 and "holds SR" in answer.reason


def test_attach_is_idempotent_and_detach_of_a_detached_sr_succeeds(tmp_path, xapi, device):
    """Emulated: ``mount -t ocfs2`` and ``umount``."""
    sr = SR(tmp_path, xapi, device)
    sr("sr_create", ["0"])
    assert sr("sr_attach").fault is None and sr("sr_attach").fault is None
    assert len(emulated_calls(tmp_path, "mount")) == 1
    assert sr("sr_detach").fault is None and sr("sr_detach").fault is None
    assert len(emulated_calls(tmp_path, "umount")) == 1


def test_detach_succeeds_after_the_device_vanished(tmp_path, xapi):
    """Emulated: ``mount -t ocfs2`` and ``umount``; mkfs.ocfs2 is real, on a plain file."""
    image = tmp_path / "lun.img"
    with open(str(image), "wb") as f:
        f.truncate(128 * 1024 * 1024)
    sr = SR(tmp_path, xapi, str(image))
    assert sr("sr_create", ["0"]).fault is None
    assert sr("sr_attach").fault is None
    image.unlink()
    assert sr("sr_attach").code == 602  # attaching needs the device...
    assert sr("sr_detach").fault is None  # ...detaching does not
    assert len(emulated_calls(tmp_path, "umount")) == 1


def test_vdi_on_a_detached_sr_is_unavailable(tmp_path, xapi, device):
    sr = SR(tmp_path, xapi, device)
    sr("sr_create", ["0"])
    assert sr("vdi_create", [str(STATEFILE_SIZE)]).code == 607


def test_mkfs_failure_carries_the_tools_stderr(tmp_path, xapi):
    tiny = tmp_path / "tiny.img"
    with open(str(tiny), "wb") as f:
        f.truncate(1024 * 1024)
    answer = SR(tmp_path, xapi, str(tiny))("sr_create", ["0"])
    assert answer.code == 603
    assert "mkfs.ocfs2 exited" in answer.reason and "stderr:" in answer.reason


def test_missing_tool_is_tool_missing(tmp_path, xapi, device):
    only_python = tmp_path / "only-python"
    only_python.mkdir()
    (only_python / "python3").write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    os.chmod(str(only_python / "python3"), 0o755)
    sr = SR(tmp_path, xapi, device)
    sr.env["PATH"] = str(only_python)
    answer = sr("sr_probe")
    assert answer.code == 604 and "blkid" in answer.reason


@pytest.fixture
def outside():
    """A regular file outside the directory where files may stand for devices (it holds data)."""
    directory = tempfile.mkdtemp(prefix="s14-outside-")
    path = os.path.join(directory, "shadow")
    with open(path, "wb") as f:
        f.write(b"root:$6$secret:19000:0:99999:7:::\n" * 2048)
    yield path
    shutil.rmtree(directory)


@pytest.mark.parametrize("given", ["OUTSIDE", "/etc/shadow", "/", "/proc/self/mem", "/dev/null", "/dev/zero"])
def test_create_and_attach_refuse_what_is_not_a_block_device(tmp_path, xapi, outside, given):
    path = outside if given == "OUTSIDE" else given
    with open(outside, "rb") as f:
        before = f.read()
    for command, args in (("sr_create", ["0"]), ("sr_attach", []), ("sr_probe", [])):
        answer = SR(tmp_path, xapi, path)(command, args)
        assert answer.code == 602 and "is not a block device" in answer.reason, (command, answer.reason)
    with open(outside, "rb") as f:
        assert f.read() == before
    assert emulated_calls(tmp_path) == []


def test_a_link_to_the_device_is_resolved_once_and_the_tools_get_the_device(tmp_path, xapi, device):
    """Emulated: ``mount -t ocfs2``.  mkfs.ocfs2 and mount are given the device, not the link."""
    link = str(tmp_path / "lun-link")
    os.symlink(device, link)
    sr = SR(tmp_path, xapi, link)
    assert sr("sr_create", ["0"]).fault is None
    assert blkid(device)["TYPE"] == "ocfs2"
    assert sr("sr_attach").fault is None
    point = str(tmp_path / "sr-mount" / sr.sr_uuid)
    assert emulated_calls(tmp_path, "mount") == [["mount", "-t", "ocfs2", os.path.realpath(device), point]]
