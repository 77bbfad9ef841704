"""MelioSR end to end with the vendor CLI emulated (it is not available here).

tests/functional/helpers/fakebin/melioctl records its argv and keeps the volume's
label and files under the test's directory; its mount is a bind mount.
Every test here that runs a storage command says so.
"""

import os

import pytest

from helpers.drivers import blank_file, emulated_calls, environment, new_uuid, run
from helpers.xapi_recorder import SESSION


pytestmark = pytest.mark.xapi("melio")  # the SR type of the conftest's recording xapi


@pytest.fixture
def device(tmp_path):
    return blank_file(tmp_path, "melio-lun.img", 32)


def melio(tmp_path, xapi, device, command, sr_uuid, args=(), emulators=True, **members):
    env = environment(tmp_path, emulators=emulators, xapi=xapi.path)
    return run("MelioSR", command, env, args=list(args), device_config={"device": device},
               session_ref=SESSION, sr_ref=xapi.sr_ref, sr_uuid=sr_uuid, **members)


def test_lifecycle_through_the_vendor_cli(tmp_path, xapi, device):
    """Emulated: the Melio CLI ``melioctl`` (with a bind mount for its volume mount)."""
    sr_uuid = new_uuid()
    assert melio(tmp_path, xapi, device, "sr_create", sr_uuid, ["0"]).fault is None
    assert "<UUID>%s</UUID>" % sr_uuid in melio(tmp_path, xapi, device, "sr_probe", sr_uuid).value
    assert melio(tmp_path, xapi, device, "sr_attach", sr_uuid).fault is None
    created = melio(tmp_path, xapi, device, "vdi_create", sr_uuid, ["4194304"])
    vdi = created.value["location"]
    path = melio(tmp_path, xapi, device, "vdi_attach", sr_uuid, ["true"], vdi_location=vdi).value["params"]
    assert os.path.getsize(path) == 4194304
    assert melio(tmp_path, xapi, device, "sr_update", sr_uuid).fault is None
    assert xapi.recorder.records.srs[xapi.sr_ref]["physical_size"] == str(32 * 1024 * 1024)
    assert melio(tmp_path, xapi, device, "vdi_delete", sr_uuid, vdi_location=vdi).fault is None
    assert melio(tmp_path, xapi, device, "sr_detach", sr_uuid).fault is None
    assert melio(tmp_path, xapi, device, "sr_delete", sr_uuid).fault is None
    actions = [c[2] for c in emulated_calls(tmp_path, "melioctl")]
    assert actions[:2] == ["create", "info"]
    assert "mount" in actions and "unmount" in actions and actions[-1] == "destroy"
    point = str(tmp_path / "sr-mount" / sr_uuid)
    assert ["melioctl", "volume", "mount", "--device", device, "--mountpoint", point] \
        in emulated_calls(tmp_path, "melioctl")


def test_attach_refuses_another_srs_volume(tmp_path, xapi, device):
    """Emulated: the Melio CLI."""
    melio(tmp_path, xapi, device, "sr_create", new_uuid(), ["0"])
    answer = melio(tmp_path, xapi, device, "sr_attach", new_uuid())
    assert answer.code == 607


def test_absent_vendor_cli_is_tool_missing_naming_it(tmp_path, xapi, device):
    answer = melio(tmp_path, xapi, device, "sr_create", new_uuid(), ["0"], emulators=False)
    assert answer.code == 604
    assert "melioctl" in answer.reason
