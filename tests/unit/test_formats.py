"""The xhad.conf model: parse, write, and reject what xapi rejects (the liveset: test_liveset.py)."""

import uuid

import pytest

from sm_clusterstack.stacks import xhadconf
from sm_clusterstack.xmlsafe import XMLFormatError


def ids(n):
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lolololololololololol">\n'
        + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"") * 10)
                   for i in range(1, 10))
        + b"]>\n<ha_liveset_info><status>&lol9;</status></ha_liveset_info>")


def make_conf(n=3, local=1):
    hosts = [xhadconf.Host(h, "10.0.0.%d" % (i + 1)) for i, h in enumerate(ids(n))]
    return xhadconf.XhadConfig(str(uuid.UUID(int=99)), hosts, ids(n)[local], "/dev/VG/statefile",
                               udp_port=49154, parameters={"HeartbeatTimeout": 30, "StateFileTimeout": 45},
                               heartbeat_interface="xenbr0", heartbeat_physical_interface="eth0")


def test_xhad_conf_round_trips():
    conf = make_conf()
    parsed = xhadconf.parse(conf.to_xml())
    assert parsed.hosts == conf.hosts
    assert (parsed.generation_uuid, parsed.local_host_id, parsed.statefile, parsed.udp_port) == (
        conf.generation_uuid, conf.local_host_id, conf.statefile, 49154)
    assert parsed.parameters == {"HeartbeatTimeout": 30, "StateFileTimeout": 45}
    assert (parsed.heartbeat_interface, parsed.heartbeat_physical_interface) == ("xenbr0", "eth0")


def test_xhad_conf_with_64_hosts_is_accepted_and_65_refused():
    assert len(xhadconf.parse(make_conf(64).to_xml()).hosts) == 64
    with pytest.raises(XMLFormatError):
        make_conf(65)


@pytest.mark.parametrize("old, new, says", [
    ("<UDPport>49154</UDPport>", "<UDPport>http</UDPport>", "UDPport"),
    ("<UDPport>49154</UDPport>", "<UDPport>70000</UDPport>", "UDPport"),
    ("10.0.0.2", "10.0.0.300", "IPaddress"),
    ("<StateFile>/dev/VG/statefile</StateFile>", "<StateFile></StateFile>", "StateFile"),
    ("<HeartbeatTimeout>30</HeartbeatTimeout>", "<HeartbeatTimeout>-1</HeartbeatTimeout>", "HeartbeatTimeout"),
    ("<HeartbeatInterface>xenbr0</HeartbeatInterface>", "<HeartbeatInterface>a b</HeartbeatInterface>",
     "interface"),
    ("</common-config>", "</common-config><common-config/>", "expected one <common-config>"),
])
def test_xhad_conf_rejections_say_what_is_wrong(old, new, says):
    text = make_conf().to_xml().decode()
    assert old in text
    with pytest.raises(XMLFormatError) as info:
        xhadconf.parse(text.replace(old, new))
    assert says in str(info.value)


def test_xhad_conf_unknown_parameters_are_ignored_as_xhad_does():
    text = make_conf().to_xml().decode().replace("<parameters>", "<parameters><Frobnicate>x</Frobnicate>")
    conf = xhadconf.parse(text)
    assert "Frobnicate" not in conf.parameters and conf.parameters == make_conf().parameters


def test_xhad_conf_localhost_must_be_a_configured_host():
    text = make_conf().to_xml().decode()
    local = ids(3)[1]
    head, tail = text.split("<local-config>")
    with pytest.raises(XMLFormatError) as info:
        xhadconf.parse(head + "<local-config>" + tail.replace(local, str(uuid.UUID(int=77))))
    assert "localhost" in str(info.value)


def test_xhad_conf_duplicate_host_refused():
    conf = make_conf()
    with pytest.raises(XMLFormatError):
        xhadconf.XhadConfig(conf.generation_uuid, conf.hosts + conf.hosts[:1], conf.local_host_id, "/sf")


def test_xhad_conf_bomb_refused():
    with pytest.raises(XMLFormatError):
        xhadconf.parse(BOMB.replace(b"ha_liveset_info", b"xhad-config"))


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1", " "])
def test_xhad_conf_port_that_is_not_ascii_decimal_is_a_format_error(value):
    text = make_conf().to_xml().decode().replace("<UDPport>49154</UDPport>", "<UDPport>%s</UDPport>" % value)
    with pytest.raises(XMLFormatError):
        xhadconf.parse(text.encode("utf-8"))


def test_xhad_conf_parameters_xhad_does_not_know_are_ignored():
    """xhad's config reader skips unknown parameter elements (xha ``stubs/cfread-libxml2/cf_read.c``)."""
    text = make_conf().to_xml().decode().replace("<HeartbeatTimeout>30</HeartbeatTimeout>",
                                                 "<HeartbeatTimeout>30</HeartbeatTimeout><Frobnicate>1</Frobnicate>")
    assert xhadconf.parse(text).parameters["HeartbeatTimeout"] == 30


@pytest.mark.parametrize("t, expected", [
    (10, {"HeartbeatInterval": 2, "StateFileInterval": 2, "StateFileWatchdogTimeout": 25, "BootJoinTimeout": 70}),
    (60, {"HeartbeatInterval": 3, "StateFileInterval": 3, "StateFileWatchdogTimeout": 75, "BootJoinTimeout": 120}),
    (45, {"HeartbeatInterval": 3, "StateFileInterval": 2, "HeartbeatWatchdogTimeout": 45, "EnableJoinTimeout": 105}),
])
def test_timeouts_are_derived_from_t_as_xapi_derives_them(t, expected):
    """``ocaml/xapi/xapi_ha.ml`` ``Timeouts.derive``: intervals, timeouts, join timeouts, xapi's globals."""
    derived = xhadconf.derive_timeouts(t)
    assert len(derived) == 12 and "XapiLicenseCheckTimeout" not in derived
    assert derived["HeartbeatTimeout"] == derived["StateFileTimeout"] == t
    assert (derived["XapiHealthCheckInterval"], derived["XapiHealthCheckTimeout"],
            derived["XapiRestartAttempts"], derived["XapiRestartTimeout"]) == (60, 120, 1, 300)
    for name, value in expected.items():
        assert derived[name] == value


def test_a_base_timeout_below_ten_is_refused_as_xapi_refuses_it():
    """``Timeouts.derive``: ``if t < 10 then failwith "constraint violation: timeout >= 10"``."""
    with pytest.raises(ValueError):
        xhadconf.derive_timeouts(9)
