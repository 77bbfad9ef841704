"""The liveset schema the kit ships agrees with the liveset model (xapi's rules)."""

import uuid

import pytest

from sm_clusterstack.kit import liveset_schema
from sm_clusterstack.stacks import liveset
from sm_clusterstack.xmlsafe import XMLFormatError

HOST = str(uuid.UUID(int=1))
OTHER = str(uuid.UUID(int=2))


def _full():
    hosts = [liveset.LivesetHost(HOST, True, True, True, False, False),
             liveset.LivesetHost(OTHER, False, False, True, False, True)]
    raw = {"statefile_latency": 3, "heartbeat_latency_max": 40}
    host_raw = {HOST: {"time_since_last_heartbeat": 1, "heartbeat_active_list_on_heartbeat": [HOST, OTHER]}}
    return liveset.Liveset("Online", HOST, hosts, raw, host_raw, {"statefile_lost": False}).to_xml().decode()


def _accepted_by_model(text):
    try:
        liveset.parse(text)
        return True
    except XMLFormatError:
        return False


def test_the_model_output_is_valid():
    assert liveset_schema.problems(_full()) == []


BROKEN = [
    ("missing status", lambda t: t.replace("<status>Online</status>", "")),
    ("unknown status", lambda t: t.replace("<status>Online</status>", "<status>Up</status>")),
    ("missing localhost", lambda t: t.replace("<localhost>\n    <HostID>%s</HostID>\n  </localhost>" % HOST, "")),
    ("localhost not a uuid", lambda t: t.replace("<HostID>%s</HostID>" % HOST, "<HostID>host1</HostID>", 1)),
    ("host not a uuid", lambda t: t.replace("<HostID>%s</HostID>" % OTHER, "<HostID>42</HostID>")),
    ("boolean yes", lambda t: t.replace("<liveness>TRUE</liveness>", "<liveness>yes</liveness>", 1)),
    ("missing flag", lambda t: t.replace("<excluded>TRUE</excluded>", "")),
    ("latency not integer", lambda t: t.replace("<statefile_latency>3<", "<statefile_latency>fast<")),
    ("raw list not uuids", lambda t: t.replace("%s %s<" % (HOST, OTHER), "%s nope<" % HOST)),
    ("warning not boolean", lambda t: t.replace("<statefile_lost>FALSE<", "<statefile_lost>0<")),
    ("wrong root", lambda t: t.replace("ha_liveset_info", "liveset")),
    ("not xml", lambda t: t[:40]),
]


@pytest.mark.parametrize("name,breaker", BROKEN, ids=[b[0] for b in BROKEN])
def test_schema_and_model_both_reject(name, breaker):
    broken = breaker(_full())
    assert broken != _full()
    assert liveset_schema.problems(broken), name
    assert not _accepted_by_model(broken), name


ACCEPTED = [
    ("lowercase booleans", lambda t: t.replace("TRUE", "true").replace("FALSE", "False")),
    ("children in another order", lambda t: t.replace("<status>Online</status>", "").replace(
        "</ha_liveset_info>", "<status>Online</status></ha_liveset_info>")),
    ("no optional parts", lambda t: t[:t.index("<raw_status_on_local_host>")] + "</ha_liveset_info>"),
    ("no version attribute", lambda t: t.replace(' version="1.0"', "", 1)),
]


@pytest.mark.parametrize("name,change", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_schema_and_model_both_accept(name, change):
    changed = change(_full())
    assert changed != _full()
    assert liveset_schema.problems(changed) == [], name
    assert _accepted_by_model(changed), name


def test_a_dtd_is_refused():
    text = _full().replace("<ha_liveset_info", '<!DOCTYPE x [<!ENTITY a "b">]><ha_liveset_info', 1)
    assert "DTD" in liveset_schema.problems(text)[0]
