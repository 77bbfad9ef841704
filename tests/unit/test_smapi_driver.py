"""The dispatcher: a table of commands, every failure a fault, a log line per call."""

import xmlrpc.client

import pytest

from sm_clusterstack import errors
from sm_clusterstack.smapi import driver, offline, srbase
from sm_clusterstack.smapi.call import Call
from sm_clusterstack.smapi.driver import Failure

INFO = driver.frozen({"name": "Toy", "required_cluster_stack": ["corosync"], "capabilities": ["SR_PROBE"]})
UUID = "3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2d"


class ToySR(driver.SR):
    """Answers sr_scan, fails sr_attach, crashes on sr_detach; implements nothing else."""

    def sr_scan(self):
        return None

    def sr_attach(self):
        raise Failure("IncompatibleClusterStack", "corosync")

    def sr_detach(self):
        raise RuntimeError("boom")

    def sr_probe(self):
        raise errors.SMError("SRInUse", "busy")


def answer(command, **members):
    log = []
    text = driver.answer(ToySR, INFO, ["ToySR", Call(command, "OpaqueRef:h", **members).to_xml()],
                         log.append)
    return text, log


def value_or_fault(text):
    try:
        (value,), _ = xmlrpc.client.loads(text)
        return value
    except xmlrpc.client.Fault as fault:
        return fault


def test_answer_of_a_command_is_its_value():
    text, log = answer("sr_scan", sr_uuid=UUID)
    assert value_or_fault(text) is None
    assert log == ["sr_scan sr=%s: ok" % UUID]


def test_driver_info_is_answered_from_driver_info():
    text, _ = answer("sr_get_driver_info")
    assert value_or_fault(text)["required_cluster_stack"] == ["corosync"]


def test_failure_is_the_fault_named_in_the_table():
    fault = value_or_fault(answer("sr_attach", sr_uuid=UUID)[0])
    assert fault.faultCode == errors.sm_code("IncompatibleClusterStack")
    assert fault.faultString.endswith("[corosync]")


def test_sm_error_keeps_its_code():
    assert value_or_fault(answer("sr_probe")[0]).faultCode == 16


def test_command_the_class_lacks_is_not_implemented():
    assert value_or_fault(answer("vdi_create", sr_uuid=UUID)[0]).faultCode == 38


def test_command_outside_the_table_is_not_implemented_even_if_a_method_exists():
    class Sneaky(ToySR):
        def answer(self):
            return "should not run"
    text = driver.answer(Sneaky, INFO, ["x", Call("answer", "OpaqueRef:h").to_xml()], lambda m: None)
    assert value_or_fault(text).faultCode == 38


def test_missing_member_the_command_needs_is_malformed():
    fault = value_or_fault(answer("sr_scan")[0])
    assert fault.faultCode == 600 and "sr_uuid" in fault.faultString


def test_unexpected_exception_is_an_internal_error_without_traceback_in_the_answer():
    text, log = answer("sr_detach", sr_uuid=UUID)
    fault = value_or_fault(text)
    assert fault.faultCode == 609 and "RuntimeError: boom" in fault.faultString
    assert "Traceback" not in text
    assert any("Traceback" in line for line in log)  # kept for the operator, in the log only
    assert log[-1].startswith("sr_detach sr=%s: fault 609" % UUID)


def test_main_prints_one_answer_and_returns_0(capsys):
    assert driver.main(ToySR, INFO, ["ToySR"]) == 0
    out, err = capsys.readouterr()
    assert value_or_fault(out).faultCode == 600
    assert "SM: ToySR: ?: fault 600" in err


def test_log_lines_cannot_be_forged_with_control_characters(tmp_path, capsys):
    driver.Log("LVMSR", dev_log=str(tmp_path / "no-log"))("sr_x\nSM: forged")
    assert capsys.readouterr().err == "SM: LVMSR: sr_x?SM: forged\n"


def test_log_falls_back_to_stderr_without_dev_log(tmp_path, capsys):
    driver.Log("LVMSR", dev_log=str(tmp_path / "no-log"))("sr_scan: ok")
    assert capsys.readouterr().err == "SM: LVMSR: sr_scan: ok\n"


def test_every_command_in_the_table_is_implemented_by_the_storage_sr_or_offline_attach():
    missing = [c for c in driver.COMMANDS
               if not hasattr(srbase.StorageSR, c) and not hasattr(offline.OfflineAttach, c)]
    assert missing == []


def test_offline_attach_commands_are_not_in_every_storage_sr():
    """MelioSR does not answer them: only classes that list OfflineAttach do."""
    assert not any(hasattr(srbase.StorageSR, c) for c in
                   ("vdi_generate_config", "vdi_attach_from_config", "vdi_detach_from_config"))


def test_frozen_makes_nested_values_read_only():
    frozen = driver.frozen({"a": [{"k": "v"}]})
    with pytest.raises(TypeError):
        frozen["a"][0]["k"] = "w"


@pytest.mark.parametrize("value", ["3f2b0c1e-5d4a-4b6e-9c8d-7e6f5a4b3c2", "../x", "", None,
                                   "3F2B0C1E-5D4A-4B6E-9C8D-7E6F5A4B3C2D"])
def test_check_uuid_refuses_what_is_not_a_lower_case_uuid(value):
    with pytest.raises(Failure) as raised:
        srbase.check_uuid(value, "sr_uuid")
    assert raised.value.name == "ArgumentInvalid"
