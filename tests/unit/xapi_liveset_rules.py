"""A port of xapi's liveset parser, to hold a stack's output to exactly what xapi accepts.

xen-api ``ocaml/xapi/xha_interface.ml``, module ``LiveSetInformation``
(``of_xml_element_list``, ``Host.of_xml_element``, ``HostRawData.of_xml_element``,
``Warning.of_xml_element``, ``RawStatus.of_xml_element``) over xml-light,
which drops white space between elements:

- ``status``: the first <status> must hold exactly one text, Online,
  Offline or Starting in any case (``Status.of_string``), not stripped;
- ``localhost``: the first <localhost> must hold exactly one child,
  <HostID> with one text, a uuid;
- every <host>: a table of its leaf children (name -> stripped text, ""
  when empty; a child whose first content is an element is skipped) that
  must hold HostID (uuid) and liveness, master, statefile_access,
  statefile_corrupted, excluded, each ``bool_of_string`` of its lowercase;
- the first <raw_status_on_local_host>, if any: all nine latencies as
  ``int_of_string``, and every <host_raw_data> in it all of HostID, three
  ints and two white-space separated uuid lists;
- the first <warning_on_local_host>, if any: all five names present;
  a warning is true only when its text is exactly TRUE.

Anything missing raises XapiRejects, as ``invalid_arg`` does in xapi.
"""

import re
import xml.etree.ElementTree as ET

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
OCAML_INT = re.compile(r"-?[0-9][0-9_]*\Z")  # int_of_string's decimal form (its 0x/0o/0b forms unused here)
HOST_FLAGS = ("liveness", "master", "statefile_access", "statefile_corrupted", "excluded")
LATENCIES = ("statefile_latency", "statefile_latency_min", "statefile_latency_max",
             "heartbeat_latency", "heartbeat_latency_min", "heartbeat_latency_max",
             "Xapi_healthcheck_latency", "Xapi_healthcheck_latency_min", "Xapi_healthcheck_latency_max")
RAW_INTS = ("time_since_last_update_on_statefile", "time_since_last_heartbeat",
            "time_since_xapi_restart_first_attempted")
RAW_LISTS = ("heartbeat_active_list_on_heartbeat", "heartbeat_active_list_on_statefile")
WARNINGS = ("statefile_lost", "heartbeat_approaching_timeout", "statefile_approaching_timeout",
            "Xapi_healthcheck_approaching_timeout", "network_bonding_error")


class XapiRejects(ValueError):
    """xapi's parser would raise Invalid_argument on this liveset."""


def _uuid(text):
    if not UUID.match(text):
        raise XapiRejects("invalid uuid value %r" % text)
    return text.lower()


def _int(text):
    if not OCAML_INT.match(text):
        raise XapiRejects("Invalid integer value %r" % text)
    return int(text.replace("_", ""))


def _bool(text):
    if text.lower() not in ("true", "false"):
        raise XapiRejects("Invalid boolean value %r within 'host' element" % text)
    return text.lower() == "true"


def _content(element):
    """xml-light's children: text (unless only white space) and elements."""
    found = []
    if element.text and element.text.strip():
        found.append(element.text)
    for child in element:
        found.append(child)
        if child.tail and child.tail.strip():
            found.append(child.tail)
    return found


def _table(element, what):
    table = {}
    for child in element:
        content = _content(child)
        if not content:
            table[child.tag.strip()] = ""
        elif isinstance(content[0], str):
            table[child.tag.strip()] = content[0].strip()
    return lambda name: _find(table, name, what)


def _find(table, name, what):
    if name not in table:
        raise XapiRejects("Missing entry '%s' within '%s' element" % (name, what))
    return table[name]


def _host(element):
    find = _table(element, "host")
    flags = {flag: _bool(find(flag)) for flag in HOST_FLAGS}
    return _uuid(find("HostID")), flags


def _raw(element):
    find = _table(element, "raw_status_on_local_host")
    latencies = {name: _int(find(name)) for name in LATENCIES}
    hosts = {}
    for child in element.findall("host_raw_data"):
        get = _table(child, "host_raw_data")
        fields = {name: _int(get(name)) for name in RAW_INTS}
        fields.update({name: [_uuid(u) for u in get(name).split()] for name in RAW_LISTS})
        hosts[_uuid(get("HostID"))] = fields
    return latencies, hosts


def _single_text(element, what):
    content = _content(element) if element is not None else None
    if not content or len(content) != 1 or not isinstance(content[0], str):
        raise XapiRejects("Invalid or missing '%s' element." % what)
    return content[0]


def parse(data):
    """What xapi would read: a dict, or XapiRejects."""
    root = ET.fromstring(data)
    if root.tag != "ha_liveset_info":
        raise XapiRejects("Invalid or missing 'ha_liveset_info' element.")
    status = _single_text(root.find("status"), "status")
    if status.lower() not in ("online", "offline", "starting"):
        raise XapiRejects("Invalid status string.")
    local = root.find("localhost")
    children = _content(local) if local is not None else []
    if len(children) != 1 or isinstance(children[0], str) or children[0].tag != "HostID":
        raise XapiRejects("Invalid or missing 'localhost' element.")
    localhost = _uuid(_single_text(children[0], "localhost"))
    hosts = dict(_host(h) for h in root.findall("host"))
    raw = root.find("raw_status_on_local_host")
    warn = root.find("warning_on_local_host")
    warnings = None
    if warn is not None:
        find = _table(warn, "warning_on_local_host")
        warnings = {name: find(name) == "TRUE" for name in WARNINGS}
    return {"status": status.lower(), "localhost": localhost, "hosts": hosts,
            "raw": _raw(raw) if raw is not None else None, "warnings": warnings}
