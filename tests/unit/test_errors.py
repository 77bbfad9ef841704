"""The XenAPI error type and the SM error table."""

import xml.etree.ElementTree as ElementTree

import pytest

from sm_clusterstack import errors


def test_xenapi_error_params_are_strings_on_the_wire():
    e = errors.XenAPIError(errors.MESSAGE_PARAMETER_COUNT_MISMATCH, "pool.enable_ha", 2, 5)
    assert e.description == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "pool.enable_ha", "2", "5"]


def test_sm_error_carries_code_and_detail():
    e = errors.SMError("IncompatibleClusterStack", "corosync")
    assert (e.code, e.name) == (605, "IncompatibleClusterStack")
    assert e.reason.endswith("[corosync]")


@pytest.mark.parametrize("name, code", [("SRInUse", 16), ("VDIInUse", 24), ("NotImplemented", 38),
                                        ("SRNotEmpty", 39), ("VDIMissing", 144)])
def test_codes_xapi_names_keep_their_upstream_values(name, code):
    assert errors.sm_code(name) == code
    assert code in errors.SM_CODES_NAMED_BY_XAPI


def test_unknown_sm_error_name_is_a_bug_not_code_1():
    with pytest.raises(KeyError):
        errors.SMError("NoSuchError")


def test_error_table_has_unique_names_and_values():
    root = ElementTree.parse(errors.ERROR_TABLE).getroot()
    names = [c.findtext("name") for c in root.iter("code")]
    values = [c.findtext("value") for c in root.iter("code")]
    assert len(set(names)) == len(names) and len(set(values)) == len(values)
    assert all(c.findtext("description") for c in root.iter("code"))
