"""How xe prints a XenAPI error, and the datamodel texts it prints.

xapi's CLI (``ocaml/xapi-cli-server/cli_util.ml`` ``server_error`` and
``get_server_error``) looks the code up in the datamodel's error table
(``ocaml/idl/datamodel_errors.ml``): a known code prints its documentation,
then one ``name: value`` line per parameter (``<extra>: v`` for a surplus
value, ``name: <unknown>`` for a missing one); an unknown code prints
``Error code: CODE`` and ``Error parameters: p1, p2`` (``ocaml/xe-cli/
newcli.ml``, ``Command (Error ...)``).  Either way every parameter that is
a ref is shown as ``uuid (name-label)`` (``ref_convert``).  The codes
below are those this project meets; their texts are the datamodel's.
"""

import typing

# code -> (parameter names, documentation), from datamodel_errors.ml
DATAMODEL = {
    "INCOMPATIBLE_CLUSTER_STACK_ACTIVE": (["cluster_stack"], (
        "This operation cannot be performed, because it is incompatible with the currently active HA "
        "cluster stack.")),
    "INCOMPATIBLE_STATEFILE_SR": (["SR type"], "The specified SR is incompatible with the selected HA cluster stack."),
    "HANDLE_INVALID": (["class", "handle"], (
        "You gave an invalid object reference. The object may have recently been deleted. The class parameter "
        "gives the type of reference given, and the handle parameter echoes the bad value given.")),
    "UUID_INVALID": (["type", "uuid"], "The uuid you supplied was invalid."),
    "SESSION_INVALID": (["handle"], (
        "You gave an invalid session reference. It may have been invalidated by a server restart, or timed out. "
        "You should get a new session handle, using one of the session.login_ calls. This error does not "
        "invalidate the current connection. The handle parameter echoes the bad value given.")),
    "MESSAGE_METHOD_UNKNOWN": (["method"], (
        "You tried to call a method that does not exist. The method name that you used is echoed.")),
    "MESSAGE_PARAMETER_COUNT_MISMATCH": (["method", "expected", "received"], (
        "You tried to call a method with the incorrect number of parameters. The fully-qualified method name "
        "that you used, and the number of received and expected parameters are returned.")),
    "HA_NOT_ENABLED": ([], "The operation could not be performed because HA is not enabled on the Pool"),
    "HA_IS_ENABLED": ([], "The operation could not be performed because HA is enabled on the Pool"),
    "HA_ENABLE_IN_PROGRESS": ([], "The operation could not be performed because HA enable is in progress"),
    "HA_DISABLE_IN_PROGRESS": ([], "The operation could not be performed because HA disable is in progress"),
    "HA_FAILED_TO_FORM_LIVESET": ([], (
        "HA could not be enabled on the Pool because a liveset could not be formed: check storage and network "
        "heartbeat paths.")),
    "HA_HOST_CANNOT_ACCESS_STATEFILE": ([], (
        "The server could not join the liveset because the HA daemon could not access the heartbeat disk.")),
    "HA_HEARTBEAT_DAEMON_STARTUP_FAILED": ([], (
        "The server could not join the liveset because the HA daemon failed to start.")),
    "HA_HOST_IS_ARMED": (["host"], (
        "The operation could not be performed while the server is still armed; it must be disarmed first.")),
    "HA_LOST_STATEFILE": ([], "This server lost access to the HA statefile."),
    "HA_TOO_FEW_HOSTS": ([], (
        "HA can only be enabled for 2 servers or more. Note that 2 servers requires a pre-configured quorum "
        "tiebreak script.")),
    "HOST_OFFLINE": (["host"], "You attempted an operation which involves a host which could not be contacted."),
    "HOST_IS_LIVE": (["host"], "This operation cannot be completed because the server is still live."),
    "HOST_NOT_DISABLED": ([], (
        "This operation cannot be performed because the host is not disabled. Please disable the host and then try "
        "again.")),
    "HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN": ([], (
        "This operation cannot be performed because it would invalidate VM failover planning such that the system "
        "would be unable to guarantee to restart protected VMs after a Host failure.")),
    "SR_UUID_EXISTS": (["uuid"], "An SR with that uuid already exists."),
    "EVENTS_LOST": ([], "Some events have been lost from the queue and cannot be retrieved."),
    "EVENT_FROM_TOKEN_PARSE_FAILURE": (["token"], (
        "The event.from token could not be parsed. Valid values include: '', and a value returned from a previous "
        "event.from call.")),
    "SESSION_NOT_REGISTERED": (["handle"], (
        "This session is not registered to receive events. You must call event.register before event.next. The "
        "session handle you are using is echoed.")),
    "HOST_STILL_BOOTING": ([], "The host toolstack is still initialising. Please wait."),
    "SR_HAS_NO_PBDS": (["sr"], "The SR has no attached PBDs"),
    "SR_HAS_PBD": (["sr"], "The SR is still connected to a host via a PBD. It cannot be destroyed or forgotten."),
    "SR_NOT_SHARABLE": (["sr", "host"], (
        "The PBD could not be plugged because the SR is in use by another host and is not marked as sharable.")),
    "SR_BACKEND_FAILURE": (["status", "stdout", "stderr"], "There was an SR backend failure."),
    "SR_UNKNOWN_DRIVER": (["driver"], "The SR could not be connected because the driver was not recognised."),
    "SR_NOT_EMPTY": ([], "The SR operation cannot be performed because the SR is not empty."),
    "SR_DEVICE_IN_USE": ([], (
        "The SR operation cannot be performed because a device underlying the SR is in use by the server.")),
    "SR_OPERATION_NOT_SUPPORTED": (["sr"], (
        "The SR backend does not support the operation (check the SR's allowed operations)")),
    "SR_SOURCE_SPACE_INSUFFICIENT": (["sr"], (
        "The source SR does not have sufficient temporary space available to proceed the operation.")),
    "CANNOT_CREATE_STATE_FILE": ([], (
        "An HA statefile could not be created, perhaps because no SR with the appropriate capability was found.")),
    "VDI_MISSING": (["sr", "vdi"], (
        "This operation cannot be performed because the specified VDI could not be found on the storage "
        "substrate")),
    "VDI_IN_USE": (["vdi", "operation"], (
        "This operation cannot be performed because this VDI is in use by some other operation")),
    "PBD_EXISTS": (["sr", "host", "pbd"], "A PBD already exists connecting the SR to the server."),
    "INVALID_VALUE": (["field", "value"], "The value given is invalid"),
    "FIELD_TYPE_ERROR": (["field"], "The value specified is of the wrong type"),
    "OPERATION_NOT_ALLOWED": (["reason"], "You attempted an operation that was not allowed."),
    "INTERNAL_ERROR": (["message"], (
        "The server failed to handle your request, due to an internal error. The given message may give details "
        "useful for debugging the problem.")),
    "XMLRPC_UNMARSHAL_FAILURE": (["expected", "received"], (
        "The server failed to unmarshal the XMLRPC message; it was expecting one element and received something "
        "else.")),
    "SESSION_AUTHENTICATION_FAILED": ([], (
        "The credentials given by the user are incorrect, so access has been denied, and you have not been "
        "issued a session handle.")),
    "TASK_CANCELLED": (["task"], "The request was asynchronously canceled."),
    "MAP_DUPLICATE_KEY": (["type", "param_name", "uuid", "key"], (
        "You tried to add a key-value pair to a map, but that key is already there.")),
}

# The project's own codes (docs/interfaces.md section 1; not in xapi) and their params.  Not in the table above:
# xe, not knowing them, prints "Error code:" and "Error parameters:", and so does this xe.
OWN_CODES = {
    "UNKNOWN_CLUSTER_STACK": ["cluster_stack"],
    "CLUSTER_STACK_CONSTRAINT": ["ref", "cluster_stack"],
    "HA_CONFIGURATION_INVALID": ["script", "MTC name", "host", "stderr"],
}

Resolver = typing.Callable[[str], str]


def _pair(names: typing.List[str], values: typing.List[str]) -> typing.List[str]:
    """``name: value`` lines as get_server_error's pp_params pairs them."""
    lines = []
    for index in range(max(len(names), len(values))):
        name = names[index] if index < len(names) else "<extra>"
        value = values[index] if index < len(values) else "<unknown>"
        lines.append("%s: %s" % (name, value))
    return lines


def render(code: str, params: typing.List[str], resolve: Resolver = str) -> str:
    """The stderr text xe prints for a XenAPI error ``code`` with ``params``."""
    values = [resolve(p) for p in params]
    known = DATAMODEL.get(code)
    if known is None:
        return "Error code: %s\nError parameters: %s\n" % (code, ", ".join(values))
    names, doc = known
    return "\n".join([doc] + _pair(names, values)) + "\n"


def render_failure(details: typing.Sequence[typing.Any], resolve: Resolver = str) -> str:
    """``render`` for an ``ErrorDescription`` list (code first)."""
    details = [str(d) for d in details] or ["INTERNAL_ERROR"]
    return render(details[0], details[1:], resolve)


def render_authentication(user: str) -> str:
    """SESSION_AUTHENTICATION_FAILED as xe prints it (``xapi_cli.ml`` ``exception_handler``)."""
    text = "Username/password must be specified" if user == "" else "Authentication failed"
    return usage_error("", text)


def usage_error(kind: str, text: str) -> str:
    """A usage error as ``xapi_cli.ml`` ``param_error`` prints it."""
    return "%s\nFor usage run: 'xe help'\n" % ((kind + ": " + text) if kind else text)


def failure_text(message: str) -> str:
    """An OCaml ``Failure`` in a command: INTERNAL_ERROR ["Failure: ..."] (``exception_handler``)."""
    return render("INTERNAL_ERROR", ["Failure: " + message])


def missing_parameter(name: str) -> str:
    """``Records.CLI_failed_to_find_param``: server_error "Missing parameter" [name]."""
    return render("Missing parameter", [name])


class CliFailure(Exception):
    """An OCaml ``Failure`` raised by an xe command: printed as INTERNAL_ERROR ["Failure: <text>"]."""


class MultipleFailure(Exception):
    """``Multiple_failure``: an operation on several objects failed on some; its lines printed, exit 1."""


class MissingParam(Exception):
    """``Records.CLI_failed_to_find_param``: a field name that the class does not have."""


class UsageError(Exception):
    """A usage error: ``kind`` ("Syntax error", "Unknown command", ...) and its text, exit 1."""

    def __init__(self, kind: str, text: str) -> None:
        super(UsageError, self).__init__(kind, text)
        self.kind = kind
        self.text = text


class ClientError(Exception):
    """A failure of the client itself (newcli ``error``): its one line is printed as is, exit 1."""
