"""vdi_generate_config and vdi_attach_from_config: the config document and its round trip.

The shapes are upstream's: xapi's ``VDI.generate_config`` answers the
driver's string (xen-api ``ocaml/xapi/sm.ml`` ``vdi_generate_config``,
``Sm_exec.parse_string``); static-vdis stores it and later runs the driver
with it as the one argument, reading ``params`` of the answer
(``python3/bin/static-vdis`` ``add``, ``call_backend_attach``), and sends it
back re-encoded with ``xmlrpc.client.dumps`` and the command changed to
``vdi_detach_from_config`` (``call_backend_detach``).  Upstream sm's own
``generate_config`` carries ``device_config``, ``sr_uuid``, ``vdi_uuid``
and ``command`` (xapi-project/sm ``libs/sm/drivers/FileSR.py``
``FileVDI.generate_config``) and ``attach_from_config`` answers like
``vdi_attach`` (``LVHDoHBASR.py`` ``LVHDoHBAVDI.attach_from_config``).
The LVM layer runs against the strict fake runner.
"""

import os
import xmlrpc.client

import pytest

from sm_clusterstack.smapi import call as smapi_call
from sm_clusterstack.smapi import driver, offline, srbase, storage_base, storage_lvm
from sm_clusterstack.smapi.call import Call

SR_UUID = "3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d"
VDI_UUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
VG = "VG_XenStorage-" + SR_UUID
LV = "LV-" + VDI_UUID
HOST = "OpaqueRef:h"
SESSION = "OpaqueRef:s"
# A stack requirement: were the pool check run, it would need the session the config lacks.
INFO = driver.frozen({"name": "ToyLVM", "required_cluster_stack": ["corosync"],
                      "capabilities": ["VDI_GENERATE_CONFIG"]})


class ToyLVMSR(offline.OfflineAttach, srbase.StorageSR):
    """The LVM layer on the fake runner of the test."""

    TYPE = "lvm"
    runner = None

    def storage(self):
        return storage_lvm.LVMStorage(self.call.device_config, run=ToyLVMSR.runner)


@pytest.fixture
def device(tmp_path, monkeypatch):
    monkeypatch.setenv(storage_base.FILE_DEVICES_ENV, str(tmp_path))  # a file stands for the device
    path = tmp_path / "disk"
    path.write_bytes(b"\0" * 4096)
    return str(path)


@pytest.fixture
def lvm(fake_runner, tmp_path, monkeypatch):
    """The toy driver's runner, with /dev under the test's directory."""
    monkeypatch.setattr(storage_lvm, "DEV_ROOT", str(tmp_path / "dev"))
    monkeypatch.setattr(ToyLVMSR, "runner", fake_runner)
    return fake_runner


def lv_node(tmp_path):
    return tmp_path / "dev" / VG / LV


def run(document):
    """The driver's answer to ``document``: its value, or the Fault."""
    text = driver.answer(ToyLVMSR, INFO, ["ToyLVMSR", document], lambda message: None)
    try:
        (value,), _ = xmlrpc.client.loads(text)
        return value
    except xmlrpc.client.Fault as fault:
        return fault


def generate_call(device, **members):
    members.setdefault("vdi_location", VDI_UUID)
    return Call("vdi_generate_config", HOST, (), {"device": device, "SRmaster": "true"},
                session_ref=SESSION, sr_ref="OpaqueRef:sr", sr_uuid=SR_UUID, vdi_ref="OpaqueRef:v",
                vdi_uuid=VDI_UUID, **members).to_xml()


def expect_identity(fake, device, vg=VG):
    fake.expect(["pvs", "--noheadings", "-o", "vg_name", device], stdout="  %s\n" % vg)


def test_config_is_an_attach_call_with_device_config_and_the_vdi_and_no_session(device):
    request = smapi_call.parse(generate_call(device))
    config = smapi_call.parse(offline.config_document(request, SR_UUID, VDI_UUID))
    assert (config.command, config.host_ref, config.args) == ("vdi_attach_from_config", HOST, [])
    assert config.device_config == {"device": device, "SRmaster": "true"}
    assert (config.sr_uuid, config.vdi_location, config.vdi_uuid) == (SR_UUID, VDI_UUID, VDI_UUID)
    assert (config.session_ref, config.sr_ref, config.vdi_ref) == (None, None, None)


def test_generate_config_answers_the_document_as_a_string(lvm, device, tmp_path):
    lv_node(tmp_path).parent.mkdir(parents=True)
    lv_node(tmp_path).write_bytes(b"")
    expect_identity(lvm, device)
    config = run(generate_call(device))
    assert isinstance(config, str)
    assert smapi_call.parse(config).command == "vdi_attach_from_config"


def test_generate_config_of_a_vdi_that_is_not_there_is_vdi_missing(lvm, device):
    expect_identity(lvm, device)
    assert run(generate_call(device)).faultCode == 144


def test_generate_config_refuses_a_device_without_the_srs_vg(lvm, device):
    expect_identity(lvm, device, vg="VG_other")
    assert run(generate_call(device)).faultCode == 607


def test_attach_from_config_activates_the_lv_and_answers_its_path_without_the_pool(lvm, device, tmp_path,
                                                                                   monkeypatch):
    config = offline.config_document(smapi_call.parse(generate_call(device)), SR_UUID, VDI_UUID)
    expect_identity(lvm, device)
    lvm.expect(["lvs", "--noheadings", "-o", "lv_name", VG], stdout="  %s\n" % LV)
    lvm.expect(["lvchange", "-ay", "%s/%s" % (VG, LV)])
    monkeypatch.setattr(ToyLVMSR, "runner", Activating(lvm, lv_node(tmp_path)))
    answer = run(config)
    assert answer == {"params": str(lv_node(tmp_path)), "xenstore_data": {}}


def test_attach_from_config_of_an_active_lv_changes_nothing(lvm, device, tmp_path):
    lv_node(tmp_path).parent.mkdir(parents=True)
    lv_node(tmp_path).write_bytes(b"")
    expect_identity(lvm, device)
    config = offline.config_document(smapi_call.parse(generate_call(device)), SR_UUID, VDI_UUID)
    assert run(config)["params"] == str(lv_node(tmp_path))


def test_attach_from_config_of_a_missing_lv_is_vdi_missing_without_lvchange(lvm, device):
    expect_identity(lvm, device)
    lvm.expect(["lvs", "--noheadings", "-o", "lv_name", VG], stdout="")
    config = offline.config_document(smapi_call.parse(generate_call(device)), SR_UUID, VDI_UUID)
    assert run(config).faultCode == 144


def test_attach_from_config_carries_lvchanges_stderr(lvm, device):
    expect_identity(lvm, device)
    lvm.expect(["lvs", "--noheadings", "-o", "lv_name", VG], stdout="  %s\n" % LV)
    lvm.expect(["lvchange", "-ay", "%s/%s" % (VG, LV)], returncode=5, stderr="  device-mapper: missing")
    config = offline.config_document(smapi_call.parse(generate_call(device)), SR_UUID, VDI_UUID)
    fault = run(config)
    assert fault.faultCode == 603 and "device-mapper: missing" in fault.faultString


def test_detach_from_config_as_static_vdis_reencodes_it_succeeds(lvm, device):
    config = offline.config_document(smapi_call.parse(generate_call(device)), SR_UUID, VDI_UUID)
    params = xmlrpc.client.loads(config)[0][0]  # static-vdis call_backend_detach, step by step
    params["command"] = "vdi_detach_from_config"
    assert run(xmlrpc.client.dumps((params,), params["command"])) is None


def test_config_stored_and_read_back_as_static_vdis_does_parses(device):
    request = smapi_call.parse(generate_call(device))
    answer = smapi_call.response(offline.config_document(request, SR_UUID, VDI_UUID))
    stored = xmlrpc.client.loads(answer)[0][0]  # VDI.generate_config's string, written to a file
    assert smapi_call.parse(stored.strip()).vdi_location == VDI_UUID


def attach_document(device, **changes):
    members = dict(sr_uuid=SR_UUID, vdi_location=VDI_UUID, vdi_uuid=VDI_UUID)
    members.update(changes)
    members = {k: v for k, v in members.items() if v is not None}
    return Call("vdi_attach_from_config", HOST, (), {"device": device}, **members).to_xml()


@pytest.mark.parametrize("changes, code", [
    ({"vdi_uuid": "1e0f9a8b-7c6d-4a3b-8c2d-9a8b7c6d5e4f"}, 608),  # names two VDIs
    ({"vdi_location": "../../etc/passwd"}, 608),
    ({"sr_uuid": "VG_XenStorage"}, 608),
    ({"vdi_location": None}, 600),
    ({"sr_uuid": None}, 600),
])
def test_attach_from_config_of_a_bad_document_is_a_fault(lvm, device, changes, code):
    assert run(attach_document(device, **changes)).faultCode == code


@pytest.mark.parametrize("document, code", [
    ("not xml", 600),
    ("<methodCall><methodName>vdi_attach_from_config</methodName></methodCall>", 600),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall/>', 600),
])
def test_attach_from_config_of_a_document_that_is_no_call_is_malformed(lvm, document, code):
    assert run(document).faultCode == code


def test_attach_from_config_without_a_device_is_config_missing(lvm, tmp_path):
    document = Call("vdi_attach_from_config", HOST, (), {}, sr_uuid=SR_UUID,
                    vdi_location=VDI_UUID).to_xml()
    assert run(document).faultCode == 601


def test_attach_from_config_of_a_vanished_device_is_config_invalid(lvm, tmp_path):
    assert run(attach_document(str(tmp_path / "gone"))).faultCode == 602


class Activating(object):
    """The fake runner, plus lvchange's effect: the LV's node appears."""

    def __init__(self, fake, node):
        self.fake = fake
        self.node = node

    def __call__(self, argv, timeout=None, env=None, stdin=None, cwd=None):
        result = self.fake(argv, timeout=timeout, env=env, stdin=stdin, cwd=cwd)
        if argv[0] == "lvchange" and result.ok:
            os.makedirs(str(self.node.parent), exist_ok=True)
            self.node.write_bytes(b"")
        return result
