"""The driver-info model: an ``sr_get_driver_info`` result checked under xapi's rules.

xapi (``Sm_exec.parse_sr_get_driver_info``) rejects a driver whose answer
lacks one of the standard members or has one of the wrong type; this
project adds ``required_cluster_stack``, an array of stack names.
``findings(info)`` lists every problem with a stable code (it never
raises); ``parse(info)`` returns a DriverInfo or raises DriverInfoError
carrying the findings.  The shim builds SM records from it and the kit
reports its findings to vendors.
"""

import typing

from sm_clusterstack import constraints

STRING_MEMBERS = ("name", "description", "vendor", "copyright", "driver_version",
                  "required_api_version")

# Capabilities xapi knows (Smint); others are logged and ignored by xapi.
KNOWN_CAPABILITIES = frozenset((
    "SR_PROBE", "SR_UPDATE", "SR_SUPPORTS_LOCAL_CACHING", "SR_STATS", "SR_METADATA",
    "SR_TRIM", "SR_MULTIPATH", "SR_CACHING", "SR_PROBE_EXT", "VDI_CREATE", "VDI_DELETE",
    "VDI_ATTACH", "VDI_DETACH", "VDI_RESIZE", "VDI_RESIZE_ONLINE", "VDI_CLONE",
    "VDI_SNAPSHOT", "VDI_MIRROR", "VDI_ACTIVATE", "VDI_DEACTIVATE", "VDI_UPDATE",
    "VDI_INTRODUCE", "VDI_GENERATE_CONFIG", "VDI_ATTACH_OFFLINE", "VDI_CONFIG_CBT", "VDI_RESET_ON_BOOT",
    "VDI_READ_CACHING", "ATOMIC_PAUSE", "THIN_PROVISIONING", "LARGE_VDI",
))

# Finding codes (stable: the kit and tests match them).
NOT_A_STRUCT = "NOT_A_STRUCT"
MISSING_MEMBER = "MISSING_MEMBER"
WRONG_TYPE = "WRONG_TYPE"
BAD_CONFIGURATION_ENTRY = "BAD_CONFIGURATION_ENTRY"
INVALID_STACK_NAME = "INVALID_STACK_NAME"
DUPLICATE_STACK = "DUPLICATE_STACK"
NO_REQUIRED_CLUSTER_STACK = "NO_REQUIRED_CLUSTER_STACK"
UNKNOWN_CAPABILITY = "UNKNOWN_CAPABILITY"

ERROR = "error"
WARNING = "warning"


class Finding(object):
    """One problem of a driver-info answer: code, severity, member and what is wrong."""

    __slots__ = ("code", "severity", "member", "message")

    def __init__(self, code: str, member: str, message: str, severity: str = ERROR) -> None:
        self.code = code
        self.severity = severity
        self.member = member
        self.message = message

    def __repr__(self):
        return "Finding(%s, %s, %r)" % (self.code, self.member, self.message)

    def __str__(self):
        return "%s %s: %s" % (self.severity, self.member or "-", self.message)


class DriverInfoError(ValueError):
    """A driver-info answer xapi would reject; ``findings`` says why."""

    def __init__(self, findings: typing.List[Finding]) -> None:
        self.findings = list(findings)
        super(DriverInfoError, self).__init__("; ".join(str(f) for f in self.findings))


class DriverInfo(object):
    """A valid driver-info answer, as the shim records it on an SM object."""

    __slots__ = STRING_MEMBERS + ("capabilities", "configuration", "required_cluster_stack")

    def __init__(self, info: typing.Dict[str, typing.Any]) -> None:
        for name in STRING_MEMBERS:
            setattr(self, name, info[name])
        self.capabilities = list(info["capabilities"])
        self.configuration = [dict(key=c["key"], description=c["description"])
                              for c in info["configuration"]]
        self.required_cluster_stack = list(info.get("required_cluster_stack", []))

    def configuration_keys(self) -> typing.List[str]:
        """The device_config keys the driver documents."""
        return [entry["key"] for entry in self.configuration]


def _is_string_array(value: typing.Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _strings(info: dict) -> typing.Iterator[Finding]:
    for name in STRING_MEMBERS:
        if name not in info:
            yield Finding(MISSING_MEMBER, name, "member %s is missing" % name)
        elif not isinstance(info[name], str):
            yield Finding(WRONG_TYPE, name, "member %s must be a string" % name)


def _capabilities(info: dict) -> typing.Iterator[Finding]:
    if "capabilities" not in info:
        yield Finding(MISSING_MEMBER, "capabilities", "member capabilities is missing")
    elif not _is_string_array(info["capabilities"]):
        yield Finding(WRONG_TYPE, "capabilities", "capabilities must be an array of strings")
    else:
        for capability in info["capabilities"]:
            name = capability.replace(":", "/").split("/")[0]
            if name not in KNOWN_CAPABILITIES:
                yield Finding(UNKNOWN_CAPABILITY, "capabilities",
                              "xapi does not know capability %r and ignores it" % capability,
                              WARNING)


def _configuration(info: dict) -> typing.Iterator[Finding]:
    entries = info.get("configuration")
    if "configuration" not in info:
        yield Finding(MISSING_MEMBER, "configuration", "member configuration is missing")
    elif not isinstance(entries, (list, tuple)):
        yield Finding(WRONG_TYPE, "configuration", "configuration must be an array of structs")
    else:
        for i, entry in enumerate(entries):
            if not (isinstance(entry, dict) and isinstance(entry.get("key"), str)
                    and isinstance(entry.get("description"), str)):
                yield Finding(BAD_CONFIGURATION_ENTRY, "configuration[%d]" % i,
                              "each entry must be a struct of strings key and description")


def _cluster_stack(info: dict) -> typing.Iterator[Finding]:
    if "required_cluster_stack" not in info:
        yield Finding(NO_REQUIRED_CLUSTER_STACK, "required_cluster_stack",
                      "no required_cluster_stack: taken as [] (no constraint)", WARNING)
        return
    stacks = info["required_cluster_stack"]
    if not _is_string_array(stacks):
        yield Finding(WRONG_TYPE, "required_cluster_stack",
                      "required_cluster_stack must be an array of strings")
        return
    for stack in stacks:
        if not constraints.is_valid_name(stack):
            yield Finding(INVALID_STACK_NAME, "required_cluster_stack",
                          "%r is not a valid cluster-stack name" % stack)
    if len(set(stacks)) != len(stacks):
        yield Finding(DUPLICATE_STACK, "required_cluster_stack",
                      "a stack is listed twice", WARNING)


def findings(info: typing.Any) -> typing.List[Finding]:
    """Every problem of ``info`` (the decoded answer), errors and warnings."""
    if not isinstance(info, dict):
        return [Finding(NOT_A_STRUCT, "", "sr_get_driver_info must answer a struct")]
    result = []
    for check in (_strings, _capabilities, _configuration, _cluster_stack):
        result.extend(check(info))
    return result


def errors_of(found: typing.Iterable[Finding]) -> typing.List[Finding]:
    """The findings that make xapi (or this project) reject the driver."""
    return [f for f in found if f.severity == ERROR]


def parse(info: typing.Any) -> DriverInfo:
    """The DriverInfo of ``info``, or DriverInfoError listing the errors."""
    problems = errors_of(findings(info))
    if problems:
        raise DriverInfoError(problems)
    return DriverInfo(info)
