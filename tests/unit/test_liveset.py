"""The liveset model reads exactly what xapi reads, and writes what xapi accepts.

Every row of the tables below is one rule of xapi's parser, cited by file
and function (xapi-project/xen-api at commit e2ee48d688 unless named):

- XI = ``ocaml/xapi/xha_interface.ml`` ``LiveSetInformation``
- XL = ``ocaml/libs/xml-light2/xml.ml`` (``_parse``, ``is_empty``) over
  xmlm (dbuenzli/xmlm ``src/xmlm.ml``)
- UU = ``Uuidx.of_string`` = dbuenzli/uuidm ``src/uuidm.ml`` ``of_string``
- OC = OCaml ``int_of_string`` (runtime/ints.c ``parse_intnat``),
  ``bool_of_string``, ``String.trim``

The base document is the one real xhad prints (xenserver/xha
``commands/calldaemon.c`` ``print_query_liveset``: ``HostIndex``,
``xapi_error_string``, ``statefile_active_list_*``, ``<timeout>``).
"""

import os
import time
import uuid

import pytest

from sm_clusterstack.stacks import liveset, ocamlvalues
from sm_clusterstack.xmlsafe import XMLFormatError

DATA = os.path.join(os.path.dirname(__file__), "data", "xhad")
H1 = "0b5e9f3a-6c1d-4e2f-8a7b-1c2d3e4f5a6b"
H2 = "9f8e7d6c-5b4a-4392-8170-fedcba987654"


def _host(host_id, index, live="TRUE", master="FALSE"):
    return ("  <host>\n    <HostID>%s</HostID>\n    <HostIndex>%d</HostIndex>\n"
            "    <liveness>%s</liveness>\n    <master>%s</master>\n"
            "    <statefile_access>TRUE</statefile_access>\n"
            "    <statefile_corrupted>FALSE</statefile_corrupted>\n    <excluded>FALSE</excluded>\n"
            "  </host>\n" % (host_id, index, live, master))


def _raw(host_id, index):
    lists = "".join("      <%s>\n          %s\n          %s\n      </%s>\n" % (name, H1, H2, name) for name in (
        "heartbeat_active_list_on_heartbeat", "heartbeat_active_list_on_statefile",
        "statefile_active_list_on_heartbeat", "statefile_active_list_on_statefile"))
    return ("    <host_raw_data>\n      <HostID>%s</HostID>\n      <HostIndex>%d</HostIndex>\n"
            "      <time_since_last_update_on_statefile>12</time_since_last_update_on_statefile>\n"
            "      <time_since_last_heartbeat>4</time_since_last_heartbeat>\n"
            "      <time_since_xapi_restart_first_attempted>-1</time_since_xapi_restart_first_attempted>\n"
            "      <xapi_error_string></xapi_error_string>\n%s    </host_raw_data>\n" % (host_id, index, lists))


def xhad_doc():
    """A two-host liveset laid out as calldaemon.c print_query_liveset prints it."""
    latencies = "".join("    <%s>%d</%s>\n" % (n, i, n) for i, n in enumerate(liveset.RAW_LATENCIES))
    warnings = "".join("    <%s>FALSE</%s>\n" % (n, n) for n in liveset.WARNINGS)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ha_liveset_info version="1.0">\n'
            "  <status>Online</status>\n  <localhost>\n    <HostID>%s</HostID>\n"
            "    <HostIndex>0</HostIndex>\n  </localhost>\n" % H1
            + _host(H1, 0, master="TRUE") + _host(H2, 1)
            + "  <raw_status_on_local_host>\n" + latencies + _raw(H1, 0) + _raw(H2, 1)
            + "  </raw_status_on_local_host>\n  <timeout>\n    <T1>30</T1>\n    <T2>30</T2>\n"
            "    <T3>45</T3>\n    <Wh>30</Wh>\n    <Ws>45</Ws>\n  </timeout>\n"
            "  <warning_on_local_host>\n" + warnings + "  </warning_on_local_host>\n</ha_liveset_info>\n")


def swap(old, new, count=1):
    def change(text):
        assert old in text, old
        return text.replace(old, new, count)
    return change


def drop_element(name):
    def change(text):
        start = text.index("<%s>" % name)
        end = text.index("</%s>" % name, start) + len("</%s>" % name)
        return text[:start] + text[end:]
    return change


def wrap_status(value):
    return swap("<status>Online</status>", "<status>%s</status>" % value)


LOCAL = "<localhost>\n    <HostID>%s</HostID>\n    <HostIndex>0</HostIndex>\n  </localhost>" % H1
WARN_LOST = "<statefile_lost>FALSE</statefile_lost>"

ACCEPTED = [
    # (name, change, citation)
    ("real xhad layout, unknown elements everywhere", lambda t: t, "XI: find/first_xml_element_with_name"),
    ("status in any case", wrap_status("oNLINE"), "XI Status.of_string: lowercase_ascii"),
    ("status Starting", wrap_status("Starting"), "XI Status.of_string"),
    ("status Offline", wrap_status("offline"), "XI Status.of_string"),
    ("status split by a comment", wrap_status("On<!-- x -->line"), "xmlm p_data reads through comments"),
    ("status as CDATA", wrap_status("<![CDATA[Online]]>"), "xmlm p_data merges CDATA"),
    ("host booleans in any case", swap("<liveness>TRUE</liveness>", "<liveness>tRuE</liveness>"),
     "XI Host: bool_of_string (lowercase_ascii s)"),
    ("host boolean with white space around", swap("<master>FALSE</master>", "<master>\n false \t</master>"),
     "XI hash_table_entry_of_leaf_xml_element: String.trim"),
    ("host HostID in upper case", swap("<HostID>%s</HostID>\n    <HostIndex>1" % H2,
                                       "<HostID>%s</HostID>\n    <HostIndex>1" % H2.upper()), "UU: either case"),
    ("host HostID with characters after the 36th", swap("<HostID>%s</HostID>\n    <HostIndex>1" % H2,
                                                        "<HostID>%sxyz</HostID>\n    <HostIndex>1" % H2),
     "UU of_string reads 36 bytes from pos 0"),
    ("localhost HostID with trailing white space", swap("<HostID>%s</HostID>" % H1, "<HostID>%s\n</HostID>" % H1),
     "XI localhost: untrimmed PCData, UU ignores what follows"),
    ("localhost with HostIndex after HostID", lambda t: t, "XI localhost: HostID :: _ (48b9aa347d)"),
    ("a leaf's first text counts", swap(WARN_LOST, "<statefile_lost>FALSE<x/>junk</statefile_lost>"),
     "XI hash_table_entry: PCData value :: _"),
    ("a repeated leaf: the last wins", swap("<liveness>TRUE</liveness>", "<liveness>maybe</liveness>"
                                            "<liveness>TRUE</liveness>"), "XI: Hashtbl.find after add_seq"),
    ("warning TRUE counts, anything else is false", swap(WARN_LOST, "<statefile_lost>yes</statefile_lost>"),
     "XI Warning: find x = \"TRUE\""),
    ("no raw status and no warnings", lambda t: drop_element("warning_on_local_host")(
        drop_element("raw_status_on_local_host")(t)), "XI: both blocks are options"),
    ("no host at all", lambda t: drop_element("host")(drop_element("host")(t)), "XI: filter_map Host"),
    ("an OCaml integer: sign, hex, underscores", swap("<statefile_latency>0<", "<statefile_latency>-0x1_F<"),
     "OC int_of_string"),
    ("an empty active list", swap("<heartbeat_active_list_on_heartbeat>\n          %s\n          %s\n      <" % (
        H1, H2), "<heartbeat_active_list_on_heartbeat>\n      <"), "XI HostRawData: split on white space"),
    ("text between elements", swap("<status>", "words<status>"), "XI: PCData children are not elements"),
    ("children in any order", lambda t: swap(LOCAL, "")(t).replace("</ha_liveset_info>", LOCAL + "</ha_liveset_info>"),
     "XI: first_xml_element_with_name"),
    ("a second status is not read", swap("</ha_liveset_info>", "<status>Broken</status></ha_liveset_info>"),
     "XI: first_xml_element_with_name"),
    ("anything after the root is not read", lambda t: t + "<<garbage", "xmlm: p_el_end_signal sets u_end_doc"),
    ("a namespace on the root", swap('<ha_liveset_info version="1.0">', '<ha_liveset_info xmlns="urn:x">'),
     "XL: name_local = snd (fst tag)"),
    ("no version attribute", swap('<ha_liveset_info version="1.0">', "<ha_liveset_info>"), "XI: attributes ignored"),
    ("a DOCTYPE without entities", swap('<ha_liveset_info', '<!DOCTYPE ha_liveset_info><ha_liveset_info'),
     "xmlm p_dtd_signal keeps the DTD unread"),
]

REFUSED = [
    # (name, change, what the error says, citation)
    ("status with white space around", wrap_status(" Online"), "status", "XI: no trim of status"),
    ("status with a trailing newline", wrap_status("Online\n"), "status", "XI: no trim of status"),
    ("status unknown", wrap_status("Up"), "status", "XI Status.of_string: invalid_arg"),
    ("status empty", wrap_status(""), "status", "XI: [PCData s] required"),
    ("status with a child element", wrap_status("Online<b/>"), "status", "XI: [PCData s] required"),
    ("status missing", drop_element("status"), "status", "XI: Invalid or missing 'status'"),
    ("localhost missing", swap(LOCAL, ""), "localhost", "XI: Invalid or missing 'localhost'"),
    ("localhost HostID not first", swap(LOCAL, "<localhost><HostIndex>0</HostIndex><HostID>%s</HostID>"
                                               "</localhost>" % H1), "localhost", "XI localhost: HostID :: _"),
    ("localhost text before HostID", swap(LOCAL, "<localhost>x<HostID>%s</HostID></localhost>" % H1),
     "localhost", "XI localhost: HostID :: _"),
    ("localhost HostID with leading white space", swap("<HostID>%s</HostID>" % H1, "<HostID> %s</HostID>" % H1),
     "uuid", "XI localhost: untrimmed, UU"),
    ("localhost HostID not a uuid", swap("<HostID>%s</HostID>" % H1, "<HostID>host1</HostID>"), "uuid", "UU"),
    ("host HostID short", swap("<HostID>%s</HostID>\n    <HostIndex>1" % H2,
                               "<HostID>%s</HostID>\n    <HostIndex>1" % H2[:-1]), "uuid", "UU: 36 bytes"),
    ("host boolean yes", swap("<liveness>TRUE</liveness>", "<liveness>yes</liveness>"), "boolean",
     "OC bool_of_string"),
    ("host boolean empty", swap("<excluded>FALSE</excluded>", "<excluded/>"), "boolean", "OC bool_of_string"),
    ("host flag missing", swap("<statefile_corrupted>FALSE</statefile_corrupted>", ""), "statefile_corrupted",
     "XI Host: find"),
    ("host flag holding an element first", swap("<master>FALSE</master>", "<master><x/>FALSE</master>"),
     "master", "XI hash_table_entry: Element first is no leaf"),
    ("one warning missing", swap(WARN_LOST, ""), "statefile_lost", "XI Warning: all five"),
    ("each of the five warnings", None, "", "XI Warning: all five"),  # expanded below
    ("a latency missing", swap("<heartbeat_latency_min>4</heartbeat_latency_min>\n", ""),
     "heartbeat_latency_min", "XI RawStatus: all nine"),
    ("a latency not an integer", swap("<statefile_latency>0<", "<statefile_latency>fast<"), "integer",
     "OC int_of_string"),
    ("a latency with an exponent", swap("<statefile_latency>0<", "<statefile_latency>1e3<"), "integer",
     "OC int_of_string"),
    ("a latency beyond 63 bits", swap("<statefile_latency>0<", "<statefile_latency>4611686018427387904<"),
     "integer", "OC parse_intnat: nbits 63"),
    ("a host_raw_data field missing", swap("<time_since_last_heartbeat>4</time_since_last_heartbeat>\n", ""),
     "time_since_last_heartbeat", "XI HostRawData: find"),
    ("an active list holding a non-uuid", swap("          %s\n          %s\n      </heartbeat_active_list_on_heartbeat>"
                                               % (H1, H2), "nope\n      </heartbeat_active_list_on_heartbeat>"),
     "uuid", "XI HostRawData: set uuid"),
    ("wrong root", lambda t: t.replace("ha_liveset_info", "liveset"), "ha_liveset_info", "XI of_xml_element"),
    ("not well-formed", lambda t: t[:60], "well-formed", "xmlm: unexpected end of input"),
    ("empty", lambda t: "", "well-formed", "xmlm: expected root element"),
    ("an undefined entity", wrap_status("&online;"), "entity", "xmlm E_unknown_entity_ref"),
    ("an unbound namespace prefix", wrap_status("Online</status><x:status>Online"), "prefix", "xmlm Unknown_ns_prefix"),
    ("an encoding xmlm does not know", swap('encoding="UTF-8"', 'encoding="windows-1252"'), "encoding",
     "xmlm p_xml_decl E_unknown_encoding"),
]


def _expanded_refused():
    rows = []
    for name, change, says, cite in REFUSED:
        if change is not None:
            rows.append((name, change, says, cite))
            continue
        for warning in liveset.WARNINGS:
            rows.append(("warning %s missing" % warning, swap("<%s>FALSE</%s>" % (warning, warning), ""),
                         warning, cite))
    return rows


def test_the_base_document_is_accepted_with_every_value():
    parsed = liveset.parse(xhad_doc())
    assert (parsed.status, parsed.localhost) == ("Online", H1)
    assert [(h.host_id, h.liveness, h.master) for h in parsed.hosts] == [(H1, True, True), (H2, True, False)]
    assert parsed.raw_status == {n: i for i, n in enumerate(liveset.RAW_LATENCIES)}
    assert parsed.host_raw_data[H2]["heartbeat_active_list_on_statefile"] == [H1, H2]
    assert parsed.host_raw_data[H1]["time_since_xapi_restart_first_attempted"] == -1
    assert parsed.warnings == {n: False for n in liveset.WARNINGS}


@pytest.mark.parametrize("name,change,cite", ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_xapi_accepts(name, change, cite):
    liveset.parse(change(xhad_doc()))


@pytest.mark.parametrize("name,change,says,cite", _expanded_refused(), ids=[r[0] for r in _expanded_refused()])
def test_xapi_refuses(name, change, says, cite):
    text = change(xhad_doc())
    assert text != xhad_doc()
    with pytest.raises(XMLFormatError) as info:
        liveset.parse(text)
    assert says in str(info.value)


def test_values_read_as_xapi_reads_them():
    text = xhad_doc().replace(WARN_LOST, "<statefile_lost>true</statefile_lost>")
    text = text.replace("<statefile_latency>0<", "<statefile_latency>0x10<")
    text = swap("<liveness>TRUE</liveness>", "<liveness>FALSE</liveness><liveness>true</liveness>")(text)
    parsed = liveset.parse(text.replace(H2, H2.upper()))
    assert parsed.warnings["statefile_lost"] is False  # only exactly TRUE is true
    assert parsed.raw_status["statefile_latency"] == 16
    assert parsed.hosts[0].liveness is True
    assert parsed.hosts[1].host_id == H2  # uuids come back in lower case


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("-5", -5), ("+5", 5), ("0x1F", 31), ("0o17", 15), ("0b101", 5), ("0u12", 12), ("1_000", 1000),
    ("4611686018427387903", 2 ** 62 - 1), ("-4611686018427387904", -2 ** 62), ("0x7fffffffffffffff", -1),
    ("", None), ("_1", None), ("0x", None), ("1e3", None), (" 1", None), ("4611686018427387904", None),
    ("0x8000000000000000", None), ("\u0663", None), ("\u00b2", None), ("--3", None), ("99999999999999999999", None),
])
def test_int_of_string_is_ocamls(text, value):
    """OC runtime/ints.c parse_intnat with nbits 63: the prefixed forms are unsigned and wrap."""
    assert ocamlvalues.int_of_string(text) == value


def test_uuid_of_string_reads_36_bytes_from_the_start():
    """UU: Uuidm.of_string ~pos:0 checks only the first 36 bytes."""
    assert ocamlvalues.uuid_of_string(H1.upper() + " trailing") == H1
    assert ocamlvalues.uuid_of_string(" " + H1) is None
    assert ocamlvalues.uuid_of_string(H1.replace("-", "_")) is None
    assert ocamlvalues.uuid_of_string(H1[:35] + "\u00e9") is None


RECORDED = {"one-host.xml": 1, "two-hosts-master.xml": 2, "two-hosts-slave.xml": 2}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_livesets_recorded_from_real_xhad_are_accepted(name):
    """Printed by xenserver/xha's ha_query_liveset on the kit's sandboxes (see data/xhad/README.md)."""
    with open(os.path.join(DATA, name), "rb") as f:
        text = f.read()
    assert b"<HostIndex>" in text and b"<timeout>" in text and b"statefile_active_list_on_heartbeat" in text
    parsed = liveset.parse(text)
    assert parsed.status == "Online" and len(parsed.hosts) == RECORDED[name]
    assert all(h.liveness for h in parsed.hosts) and sum(h.master for h in parsed.hosts) == 1
    assert len(parsed.raw_status) == 9 and len(parsed.warnings) == 5
    assert set(parsed.host_raw_data) == set(h.host_id for h in parsed.hosts)


def make_liveset(n=3):
    ids = [str(uuid.UUID(int=i + 1)) for i in range(n)]
    hosts = [liveset.LivesetHost(h, liveness=True, master=(i == 0), statefile_access=True)
             for i, h in enumerate(ids)]
    return liveset.Liveset("Online", ids[0], hosts)


def test_liveset_with_64_hosts_round_trips():
    original = make_liveset(64)
    parsed = liveset.parse(original.to_xml())
    assert parsed.status == "Online" and parsed.localhost == original.localhost
    assert parsed.live_hosts() == [h.host_id for h in original.hosts]


def test_partial_warnings_are_written_whole():
    """A writer giving one warning still prints all five (XI Warning needs all five)."""
    original = make_liveset(2)
    original.warnings = {"statefile_lost": True}
    parsed = liveset.parse(original.to_xml())
    assert parsed.warnings == dict({n: False for n in liveset.WARNINGS}, statefile_lost=True)


def test_raw_status_round_trips_and_a_partial_one_is_not_written():
    original = make_liveset(2)
    original.raw_status = {n: 7 for n in liveset.RAW_LATENCIES}
    fields = dict({n: 1 for n in liveset.HOST_RAW_FIELDS}, **{n: [original.localhost] for n in liveset.HOST_RAW_LISTS})
    original.host_raw_data = {original.localhost: fields}
    parsed = liveset.parse(original.to_xml())
    assert (parsed.raw_status, parsed.host_raw_data) == (original.raw_status, original.host_raw_data)
    del original.raw_status["heartbeat_latency"]
    with pytest.raises(ValueError):
        original.to_xml()


BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lolololololololololol">\n'
        + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"") * 10)
                   for i in range(1, 10))
        + b"]>\n<ha_liveset_info><status>&lol9;</status></ha_liveset_info>")


def test_entity_expansion_attack_is_refused_without_expanding():
    started = time.monotonic()
    with pytest.raises(XMLFormatError) as info:
        liveset.parse(BOMB)
    assert "entity" in str(info.value)
    # not a timing assertion of the code's speed: a guard that expansion did not happen at all
    assert time.monotonic() - started < 5


def test_external_entity_is_refused():
    doc = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ha_liveset_info>&e;</ha_liveset_info>'
    with pytest.raises(XMLFormatError):
        liveset.parse(doc)


def _lxml_reference(found):
    """The same liveset as a tree serialised by lxml (``tostring(pretty_print=True)``), the writer's model."""
    from lxml import etree

    def leaf(parent, name, text):
        etree.SubElement(parent, name).text = text
    flag = {True: "TRUE", False: "FALSE"}
    root = etree.Element("ha_liveset_info", version="1.0")
    leaf(root, "status", found.status)
    leaf(etree.SubElement(root, "localhost"), "HostID", found.localhost)
    for host in found.hosts:
        node = etree.SubElement(root, "host")
        leaf(node, "HostID", host.host_id)
        for name in liveset.HOST_FLAGS:
            leaf(node, name, flag[getattr(host, name)])
    raw = etree.SubElement(root, "raw_status_on_local_host")
    for name in liveset.RAW_LATENCIES:
        leaf(raw, name, str(found.raw_status[name]))
    leaf(raw, "watchdog", found.notes["watchdog"])
    for host_id, fields in sorted(found.host_raw_data.items()):
        node = etree.SubElement(raw, "host_raw_data")
        leaf(node, "HostID", host_id)
        for name in liveset.HOST_RAW_FIELDS:
            leaf(node, name, str(fields[name]))
        for name in liveset.HOST_RAW_LISTS:
            leaf(node, name, " ".join(fields[name]))
    warn = etree.SubElement(root, "warning_on_local_host")
    for name in liveset.WARNINGS:
        leaf(warn, name, flag[found.warnings[name]])
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def test_the_liveset_is_written_byte_for_byte_as_lxml_writes_its_tree_escapes_and_empty_lists_included():
    hosts = [liveset.LivesetHost("a&b<c>\"d'", True, False, True, False, False),
             liveset.LivesetHost(str(uuid.UUID(int=2)), False, True, False, True, True)]
    raw = {name: i for i, name in enumerate(liveset.RAW_LATENCIES)}
    host_raw = {h.host_id: dict({n: 7 for n in liveset.HOST_RAW_FIELDS},
                                **{n: ([] if i else ["x", "y"]) for n in liveset.HOST_RAW_LISTS})
                for i, h in enumerate(hosts)}
    found = liveset.Liveset("Online", hosts[1].host_id, hosts, raw, host_raw,
                            {w: i % 2 == 0 for i, w in enumerate(liveset.WARNINGS)}, {"watchdog": 'no <dev> & "x"'})
    assert liveset.to_xml(found) == _lxml_reference(found)
    with pytest.raises(ValueError):
        liveset.to_xml(liveset.Liveset("Online", hosts[1].host_id, hosts, raw, host_raw, {}, {"watchdog": "bell \x07"}))
