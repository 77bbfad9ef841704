"""xhad.conf as xapi writes it, byte for byte: data/xhad.conf.xapi is what the xapi oracle's
``xhadconf-write`` (xapi's ``DaemonConfiguration.to_xml_string``, ``xha_interface.ml``) printed for
this configuration; tests/functional/test_xapi_oracle.py compares more cases against the oracle itself."""

import json
import os

import pytest

from sm_clusterstack.stacks import xhadconf

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def test_an_ipv6_host_and_a_quote_in_the_statefile_path_are_written_as_xapi_writes_them():
    conf = xhadconf.XhadConfig(
        "11111111-2222-3333-4444-555555555555",
        [xhadconf.Host("aaaaaaaa-0000-0000-0000-000000000001", "fd00::1"),
         xhadconf.Host("bbbbbbbb-0000-0000-0000-000000000002", "10.0.0.2")],
        "aaaaaaaa-0000-0000-0000-000000000001", '/dev/a"b', parameters=xhadconf.derive_timeouts(60),
        heartbeat_interface="", heartbeat_physical_interface="eth0")
    with open(os.path.join(DATA, "xhad.conf.xapi"), "rb") as f:
        assert conf.to_xml() == f.read()


def test_what_is_written_parses_back_to_the_same_configuration():
    with open(os.path.join(DATA, "xhad.conf.xapi"), "rb") as f:
        conf = xhadconf.parse(f.read())
    assert conf.statefile == '/dev/a"b' and conf.host("aaaaaaaa-0000-0000-0000-000000000001").ip_address == "fd00::1"
    assert xhadconf.parse(conf.to_xml()).to_xml() == conf.to_xml()


def test_an_address_that_is_neither_ipv4_nor_ipv6_is_refused():
    for bad in ("fd00::1%eth0", "10.0.0.256", "host.example", "::g"):
        assert not xhadconf.is_ip_address(bad)
    assert xhadconf.is_ip_address("::1") and xhadconf.is_ip_address("10.0.0.1")


def test_the_daemons_copy_as_data_is_the_same_configuration_and_a_bad_one_is_refused():
    with open(os.path.join(DATA, "xhad.conf.xapi"), "rb") as f:
        conf = xhadconf.parse(f.read())
    data = json.loads(json.dumps(xhadconf.to_dict(conf)))  # as daemon.write_json and read_json carry it
    assert xhadconf.from_dict(data).to_xml() == conf.to_xml()
    for bad in (None, dict(data, hosts=[["not-a-uuid", "10.0.0.1"]]), dict(data, surplus=1), {"hosts": []}):
        with pytest.raises(xhadconf.XMLFormatError):
            xhadconf.from_dict(bad)
