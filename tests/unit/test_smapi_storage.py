"""The storage layers' tool calls, against the strict fake runner (an ordered queue of expected argv)."""

import pytest

from sm_clusterstack.smapi import storage_base, storage_lvm, storage_melio, storage_ocfs2
from sm_clusterstack.smapi.driver import Failure

UUID = "3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d"
VG = "VG_XenStorage-" + UUID


@pytest.fixture
def device(tmp_path, monkeypatch):
    monkeypatch.setenv(storage_base.FILE_DEVICES_ENV, str(tmp_path))
    path = tmp_path / "disk"
    path.write_bytes(b"\0" * 4096)
    return str(path)


class StdinRecorder(object):
    """Wraps the fake runner to keep what each call got on stdin."""

    def __init__(self, fake):
        self.fake = fake
        self.stdins = []

    def __call__(self, argv, timeout=None, env=None, stdin=None, cwd=None):
        self.stdins.append(stdin)
        return self.fake(argv, timeout=timeout, env=env, stdin=stdin, cwd=cwd)


def fails_with(name, function, *args):
    with pytest.raises(Failure) as raised:
        function(*args)
    assert raised.value.name == name
    return raised.value.detail


def test_ocfs2_create_formats_for_pcmk_and_answers_the_overwrite_question(fake_runner, device):
    runner = StdinRecorder(fake_runner)
    fake_runner.expect(["mkfs.ocfs2", "-q", "-F", "-M", "cluster", "-N", "8", "-L", "sr-" + UUID,
                        "--cluster-stack=pcmk", "--cluster-name=pool1", device])
    fake_runner.expect(["tunefs.ocfs2", "-Q", "%V\\n", device], stdout="sr-%s\n" % UUID)
    storage = storage_ocfs2.OCFS2Storage({"device": device, "cluster_name": "pool1", "node_slots": "8"},
                                         "corosync-ha", run=runner)
    storage.create(UUID, 0)
    assert runner.stdins[0] == "y\n"


def test_ocfs2_create_checks_the_label_mkfs_left(fake_runner, device):
    fake_runner.expect(["mkfs.ocfs2", "-q", "-F", "-M", "cluster", "-N", "16", "-L", "sr-" + UUID,
                        "--cluster-stack=pcmk", "--cluster-name=xapi", device])
    fake_runner.expect(["tunefs.ocfs2", "-Q", "%V\\n", device], returncode=1, stderr="not ocfs2")
    storage = storage_ocfs2.OCFS2Storage({"device": device}, run=fake_runner)
    assert "no SR's OCFS2" in fails_with("SRUnavailable", storage.create, UUID, 0)


def test_ocfs2_refuses_a_stack_it_cannot_run_on(device):
    assert "xhad" in fails_with("ConfigInvalid", storage_ocfs2.OCFS2Storage, {"device": device}, "xhad")


def test_tool_failure_carries_its_stderr(fake_runner, device):
    fake_runner.expect(["mkfs.ocfs2", "-q", "-F", "-M", "cluster", "-N", "16", "-L", "sr-" + UUID,
                        "--cluster-stack=pcmk", "--cluster-name=xapi", device],
                       returncode=1, stderr="mkfs.ocfs2: device too small\n")
    storage = storage_ocfs2.OCFS2Storage({"device": device}, run=fake_runner)
    detail = fails_with("ToolFailed", storage.create, UUID, 0)
    assert detail == "mkfs.ocfs2 exited 1; stderr: mkfs.ocfs2: device too small"


TRACEBACK = ("Traceback (most recent call last):\n  File \"/x/mount\", line 14, in <module>\n"
             "    fakelib.record(\"mount\")\nFileNotFoundError: [Errno 2] No such file or directory: "
             "'/etc/sm-clusterstack/sm-fake.json'\n")


def test_a_tool_that_dies_with_a_traceback_is_one_line_naming_it_and_why(fake_runner, device):
    """Issue 21: the reason is which tool and its error in one line, never the traceback."""
    fake_runner.expect(["melioctl", "volume", "info", "--device", device], returncode=1, stderr=TRACEBACK)
    storage = storage_melio.MelioStorage({"device": device}, run=fake_runner)
    detail = fails_with("ToolFailed", storage.probe)
    assert detail == ("melioctl exited 1; stderr: FileNotFoundError: [Errno 2] No such file or directory: "
                      "'/etc/sm-clusterstack/sm-fake.json'")


def test_a_tools_several_lines_of_stderr_are_one_line(fake_runner, device):
    fake_runner.expect(["melioctl", "volume", "info", "--device", device], returncode=5,
                       stderr="  /dev/mapper/control: open failed: No such device\n\n  Failure to communicate\n")
    storage = storage_melio.MelioStorage({"device": device}, run=fake_runner)
    assert fails_with("ToolFailed", storage.probe) == (
        "melioctl exited 5; stderr: /dev/mapper/control: open failed: No such device / Failure to communicate")


def test_tool_timeout_is_a_tool_failure(fake_runner, device):
    fake_runner.expect(["blkid", "-p", "-o", "export", device], returncode=None, timed_out=True)
    storage = storage_ocfs2.OCFS2Storage({"device": device}, run=fake_runner)
    assert "timed out" in fails_with("ToolFailed", storage.probe)


def test_ocfs2_probe_lists_the_labelled_filesystem(fake_runner, device):
    fake_runner.expect(["blkid", "-p", "-o", "export", device],
                       stdout="DEVNAME=%s\nLABEL=sr-%s\nTYPE=ocfs2\n" % (device, UUID))
    document = storage_ocfs2.OCFS2Storage({"device": device}, run=fake_runner).probe()
    assert document == ('<?xml version="1.0" ?><SRlist><SR><UUID>%s</UUID><Devlist>%s</Devlist>'
                        '</SR></SRlist>' % (UUID, device))


@pytest.mark.parametrize("stdout,returncode", [("", 2), ("TYPE=ext4\nLABEL=sr-x\n", 0),
                                               ("TYPE=ocfs2\nLABEL=data\n", 0)])
def test_ocfs2_probe_ignores_what_is_not_an_srs_ocfs2(fake_runner, device, stdout, returncode):
    fake_runner.expect(["blkid", "-p", "-o", "export", device], stdout=stdout, returncode=returncode)
    document = storage_ocfs2.OCFS2Storage({"device": device}, run=fake_runner).probe()
    assert "<SR>" not in document


def test_lvm_create_refuses_a_device_in_a_volume_group(fake_runner, device):
    fake_runner.expect(["pvs", "--noheadings", "-o", "vg_name", device], stdout="  other_vg\n")
    storage = storage_lvm.LVMStorage({"device": device}, run=fake_runner)
    assert "other_vg" in fails_with("SRInUse", storage.create, UUID, 0)


def test_lvm_create_makes_pv_and_vg(fake_runner, device):
    fake_runner.expect(["pvs", "--noheadings", "-o", "vg_name", device], returncode=5,
                       stderr="Failed to find physical volume")
    fake_runner.expect(["pvcreate", "-ff", "-y", device])
    fake_runner.expect(["vgcreate", VG, device])
    storage_lvm.LVMStorage({"device": device}, run=fake_runner).create(UUID, 0)


def test_lvm_sizes_come_from_vgs(fake_runner, device):
    fake_runner.expect(["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size,vg_free", VG],
                       stdout="  310378496 306184192\n")
    sizes = storage_lvm.LVMStorage({"device": device}, run=fake_runner).sizes(UUID)
    assert sizes == (310378496, 310378496 - 306184192)


def test_lvm_vdi_create_asks_lvcreate_for_bytes(fake_runner, device):
    fake_runner.expect(["lvcreate", "-n", "LV-" + UUID, "-L", "4194304b", VG])
    path = storage_lvm.LVMStorage({"device": device}, run=fake_runner).vdi_create(UUID, UUID, 4194304)
    assert path == "/dev/%s/LV-%s" % (VG, UUID)


def test_melio_argv_come_from_the_one_table(fake_runner, device):
    fake_runner.expect(["melioctl", "volume", "create", "--device", device, "--label", "sr-" + UUID])
    fake_runner.expect(["melioctl", "volume", "info", "--device", device],
                       stdout="label=sr-%s\nsize=10\nused=2\n" % UUID)
    storage_melio.MelioStorage({"device": device}, run=fake_runner).create(UUID, 0)


def test_melio_absent_cli_is_tool_missing(fake_runner, device):
    fake_runner.expect(["melioctl", "volume", "info", "--device", device], returncode=127,
                       stderr="melioctl: No such file or directory")
    storage = storage_melio.MelioStorage({"device": device}, run=fake_runner)
    assert fails_with("ToolMissing", storage.probe).startswith("melioctl")


@pytest.mark.parametrize("config,name", [
    ({}, "ConfigMissing"), ({"device": ""}, "ConfigMissing"), ({"device": "sda"}, "ConfigInvalid"),
    ({"device": "/dev/../etc"}, "ConfigInvalid"), ({"device": "/dev//sda"}, "ConfigInvalid"),
    ({"device": "/dev/sda/"}, "ConfigInvalid"),
])
def test_device_must_be_an_absolute_normalised_path(config, name):
    assert "device" in fails_with(name, storage_base.device_path, config)


def test_device_existence_is_checked_apart():
    assert storage_base.device_path({"device": "/no/such/device"}) == "/no/such/device"
    assert "does not exist" in fails_with("ConfigInvalid", storage_base.check_exists, "/no/such/device")


def test_mount_table_lookup_reads_escaped_paths(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 /run/sr\\040mount/x ext4 rw 0 0\n")
    assert storage_base.is_mounted("/run/sr mount/x", str(mounts))
    assert not storage_base.is_mounted("/run/sr", str(mounts))
