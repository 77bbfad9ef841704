"""Errors of the project: the XenAPI error type and the SM fault table.

XenAPIError carries a code from the table below and string params, exactly
as they travel in a XenAPI ``ErrorDescription``.  SMError carries an SM
fault code and reason, as an SMAPIv1 driver answers them; the codes live in
``data/sm_errorcodes.xml`` (the SM convention), read once, on first use,
with the standard library alone.
"""

import functools
import os
import typing

# XenAPI error codes and their params (REFERENCE.md section 1).
INCOMPATIBLE_CLUSTER_STACK_ACTIVE = "INCOMPATIBLE_CLUSTER_STACK_ACTIVE"
"""params: required stack(s) of the SR being plugged, comma-joined"""
INCOMPATIBLE_STATEFILE_SR = "INCOMPATIBLE_STATEFILE_SR"
"""params: SR type(s) allowed to hold the statefile, comma-joined"""
UNKNOWN_CLUSTER_STACK = "UNKNOWN_CLUSTER_STACK"
"""params: the requested stack name"""
CLUSTER_STACK_CONSTRAINT = "CLUSTER_STACK_CONSTRAINT"
"""params: ref of the constraining object, the stack it requires"""
HANDLE_INVALID = "HANDLE_INVALID"
"""params: class, ref"""
SESSION_INVALID = "SESSION_INVALID"
"""params: session ref"""
SESSION_AUTHENTICATION_FAILED = "SESSION_AUTHENTICATION_FAILED"
"""params: user, reason"""
MESSAGE_METHOD_UNKNOWN = "MESSAGE_METHOD_UNKNOWN"
"""params: method name"""
MESSAGE_PARAMETER_COUNT_MISMATCH = "MESSAGE_PARAMETER_COUNT_MISMATCH"
"""params: method, expected count, received count"""
HA_IS_ENABLED = "HA_IS_ENABLED"
HA_NOT_ENABLED = "HA_NOT_ENABLED"
SR_NO_PBDS = "SR_HAS_NO_PBDS"  # api_errors.ml sr_no_pbds
"""params: sr ref"""
HOST_OFFLINE = "HOST_OFFLINE"
HOST_IS_LIVE = "HOST_IS_LIVE"
SR_NOT_SHARABLE = "SR_NOT_SHARABLE"
SR_HAS_PBD = "SR_HAS_PBD"
"""params: host ref"""
SR_SOURCE_SPACE_INSUFFICIENT = "SR_SOURCE_SPACE_INSUFFICIENT"
"""params: sr ref"""
HA_FAILED_TO_FORM_LIVESET = "HA_FAILED_TO_FORM_LIVESET"
HA_HOST_CANNOT_ACCESS_STATEFILE = "HA_HOST_CANNOT_ACCESS_STATEFILE"
HA_LOST_STATEFILE = "HA_LOST_STATEFILE"
HA_ENABLE_IN_PROGRESS = "HA_ENABLE_IN_PROGRESS"
HA_DISABLE_IN_PROGRESS = "HA_DISABLE_IN_PROGRESS"
HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN = "HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"
HA_HOST_IS_ARMED = "HA_HOST_IS_ARMED"
"""params: host ref"""
CANNOT_CREATE_STATE_FILE = "CANNOT_CREATE_STATE_FILE"
SR_BACKEND_FAILURE_PREFIX = "SR_BACKEND_FAILURE"
"""SR_BACKEND_FAILURE_<n>; params: "", reason, stderr"""
SR_NOT_EMPTY = "SR_NOT_EMPTY"
VDI_IN_USE = "VDI_IN_USE"
SR_DEVICE_IN_USE = "SR_DEVICE_IN_USE"
VDI_MISSING = "VDI_MISSING"
SR_OPERATION_NOT_SUPPORTED = "SR_OPERATION_NOT_SUPPORTED"
"""params: sr ref (xapi's answer to SM fault 38, not implemented)"""
INTERNAL_ERROR = "INTERNAL_ERROR"
"""params: what went wrong"""
FIELD_TYPE_ERROR = "FIELD_TYPE_ERROR"
"""params: parameter name"""
PBD_EXISTS = "PBD_EXISTS"
"""params: host ref, sr ref, pbd ref"""
OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
"""params: reason"""
HA_CONFIGURATION_INVALID = "HA_CONFIGURATION_INVALID"
"""params: script, MTC name, host uuid, stderr (a stack script failed); or reason"""
INVALID_VALUE = "INVALID_VALUE"
"""params: field or parameter name, the value refused"""
UUID_INVALID = "UUID_INVALID"
"""params: class, uuid (no object of that class has it)"""
SR_UUID_EXISTS = "SR_UUID_EXISTS"
"""params: the uuid SR.introduce was given"""
HOST_NOT_DISABLED = "HOST_NOT_DISABLED"
"""(no params) host.shutdown/reboot of a host still enabled"""
SR_UNKNOWN_DRIVER = "SR_UNKNOWN_DRIVER"
"""params: SR type with no driver in the sm-dir"""
XMLRPC_UNMARSHAL_FAILURE = "XMLRPC_UNMARSHAL_FAILURE"
"""params: why the request could not be decoded"""
HOST_STILL_BOOTING = "HOST_STILL_BOOTING"
"""(no params) the shim has not finished its start-up"""
EVENTS_LOST = "EVENTS_LOST"
"""(no params) event.next: changes the client had not read were pruned from the record"""
EVENT_FROM_TOKEN_PARSE_FAILURE = "EVENT_FROM_TOKEN_PARSE_FAILURE"
"""params: the token given to event.from"""
SESSION_NOT_REGISTERED = "SESSION_NOT_REGISTERED"
"""params: the session's trackid (``trackid=`` and the MD5 of its ref): event.next before event.register"""


class XenAPIError(Exception):
    """A XenAPI failure: a code and its string params, as on the wire."""

    def __init__(self, code: str, *params: typing.Any) -> None:
        self.code = code
        self.params = tuple(str(p) for p in params)
        super(XenAPIError, self).__init__(code, *self.params)

    @property
    def description(self) -> typing.List[str]:
        """The ``ErrorDescription`` list: code, then params."""
        return [self.code] + list(self.params)

    def __str__(self):
        return " ".join([self.code] + [repr(p) for p in self.params])


# SM fault codes that xapi maps to a named error (REFERENCE.md section 3).
SM_CODES_NAMED_BY_XAPI = {
    38: SR_OPERATION_NOT_SUPPORTED,
    39: SR_NOT_EMPTY,
    24: VDI_IN_USE,
    16: SR_DEVICE_IN_USE,
    144: VDI_MISSING,
}

ERROR_TABLE = os.path.join(os.path.dirname(__file__), "data", "sm_errorcodes.xml")


class SMErrorCode(object):
    """One entry of the SM error table."""

    __slots__ = ("name", "value", "description")

    def __init__(self, name: str, value: int, description: str) -> None:
        self.name = name
        self.value = value
        self.description = description


@functools.lru_cache(maxsize=None)
def sm_error_table(path: str = ERROR_TABLE) -> typing.Dict[str, SMErrorCode]:
    """The SM error table by name, read once from its XML file."""
    # stdlib only, so a driver can answer a fault even before lxml is usable
    import xml.etree.ElementTree as ElementTree
    from sm_clusterstack import xmlrpc_safe
    with open(path, "rb") as f:
        data = f.read()
    xmlrpc_safe.check_no_dtd(data)
    root = ElementTree.fromstring(data)
    table = {}
    for node in root.iter("code"):
        entry = SMErrorCode(node.findtext("name"), int(node.findtext("value")),
                            node.findtext("description"))
        table[entry.name] = entry
    return table


class SMError(Exception):
    """An SM fault: the code a driver answers and its reason."""

    def __init__(self, name: str, detail: str = "") -> None:
        entry = sm_error_table()[name]  # an unknown name is a bug: KeyError
        self.name = name
        self.code = entry.value
        self.reason = entry.description + (" [%s]" % detail if detail else "")
        super(SMError, self).__init__(self.code, self.reason)

    def __str__(self):
        return "SM fault %d (%s): %s" % (self.code, self.name, self.reason)


def sm_code(name: str) -> int:
    """The numeric code of the SM error called ``name``."""
    return sm_error_table()[name].value
