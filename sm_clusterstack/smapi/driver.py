"""The driver side of SMAPIv1: an executable in drivers/ calls ``main(SRClass, DRIVER_INFO)``.

``main`` reads the one argv argument, parses the call (``call.parse``),
finds the command in ``COMMANDS`` (a table, not an ``elif`` chain), runs the
SR object's method of that name and prints one methodResponse.  Every
failure is printed as an XML-RPC fault with a code from the SM error
table and the process exits 0, as xapi expects; nothing else ever reaches
stdout.  Each call and its outcome is logged to syslog (ident ``SM``), or
to stderr where there is no syslog.

This module is on every driver's start-up path: it imports only ``os``,
``sys`` and ``call`` at load time.  Anything heavier (the error table,
XenAPI, the storage layers) is imported by the command that needs it.
"""

import os
import sys
import types

from sm_clusterstack.smapi import call as smapi_call

DEV_LOG = "/dev/log"

# command -> members it needs beyond the four every call has.  A command
# missing here is not an SMAPIv1 command this project implements (fault 38).
COMMANDS = {
    "sr_get_driver_info": (),
    "sr_create": ("sr_uuid",),
    "sr_delete": ("sr_uuid",),
    "sr_attach": ("sr_uuid",),
    "sr_detach": ("sr_uuid",),
    "sr_probe": (),
    "sr_scan": ("sr_uuid",),
    "sr_update": ("sr_uuid",),
    "vdi_create": ("sr_uuid",),
    "vdi_delete": ("sr_uuid", "vdi_location"),
    "vdi_attach": ("sr_uuid", "vdi_location"),
    "vdi_detach": ("sr_uuid", "vdi_location"),
    "vdi_generate_config": ("sr_uuid", "vdi_location"),
    "vdi_attach_from_config": ("sr_uuid", "vdi_location"),
    "vdi_detach_from_config": ("sr_uuid", "vdi_location"),
}


def frozen(value):
    """``value`` made immutable, recursively (dicts become read-only mappings, lists tuples)."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)
    return value


class Failure(Exception):
    """A fault named in the SM error table, raised by a driver: ``Failure("ConfigMissing", "device")``.

    Turned into ``errors.SMError`` (code and reason from the table) when it
    is answered, so raising one costs nothing until then.
    """

    def __init__(self, name: str, detail: str = "") -> None:
        super(Failure, self).__init__(name, detail)
        self.name = name
        self.detail = detail


class SR(object):
    """Base of a driver's SR class: one method per command, named as the command.

    A command the class does not define answers fault 38 (NotImplemented).
    ``self.call`` is the parsed Call, ``self.driver_info`` the driver's
    DRIVER_INFO.
    """

    def __init__(self, call: smapi_call.Call, driver_info: dict) -> None:
        self.call = call
        self.driver_info = driver_info

    def sr_get_driver_info(self) -> dict:
        """The driver's DRIVER_INFO, as xapi's scan asks for it."""
        return dict(self.driver_info)


class Log(object):
    """One line per call and outcome to syslog (ident SM, facility local2), or stderr without /dev/log."""

    def __init__(self, driver_name: str, dev_log: str = DEV_LOG) -> None:
        self.driver_name = driver_name
        self._syslog = None
        if os.path.exists(dev_log):
            import syslog
            syslog.openlog("SM", syslog.LOG_PID, syslog.LOG_LOCAL2)  # dom0's syslog sends local2 to SMlog
            self._syslog = syslog

    def __call__(self, message: str) -> None:
        """Log ``message``, prefixed by the driver's name."""
        line = "".join(c if c.isprintable() else "?" for c in "%s: %s" % (self.driver_name, message))
        if self._syslog is not None:
            self._syslog.syslog(self._syslog.LOG_INFO, line)
        else:
            sys.stderr.write("SM: %s\n" % line)


def _argument(argv: list) -> bytes:
    if len(argv) != 2:
        raise smapi_call.CallError("expected exactly one argument (the XML-RPC call), got %d"
                                   % (len(argv) - 1))
    return os.fsencode(argv[1])


def read_call(argv: list) -> smapi_call.Call:
    """The Call in ``argv`` (the program name and one argument), or CallError."""
    return smapi_call.parse(_argument(argv))


def dispatch(sr_class, driver_info: dict, call: smapi_call.Call):
    """The value of ``call`` run on ``sr_class``, or raise CallError/Failure/SMError."""
    needs = COMMANDS.get(call.command)
    method = getattr(sr_class, call.command, None) if needs is not None else None
    if method is None:
        raise Failure("NotImplemented", call.command)
    for member in needs:
        if getattr(call, member) is None:
            raise smapi_call.CallError("%s needs member %s" % (call.command, member), member)
    return method(sr_class(call, driver_info))


def _fault_of(error: Exception) -> tuple:
    """``(code, reason)`` of an exception raised while answering a call."""
    from sm_clusterstack import errors  # lazy: the table is read only to answer a fault
    if isinstance(error, errors.SMError):
        return error.code, error.reason
    if isinstance(error, Failure):
        fault = errors.SMError(error.name, error.detail)
    elif isinstance(error, smapi_call.CallError):
        fault = errors.SMError("MalformedCall", str(error))
    else:
        fault = errors.SMError("InternalError", "%s: %s" % (type(error).__name__, error))
    return fault.code, fault.reason


def answer(sr_class, driver_info: dict, argv: list, log) -> str:
    """The methodResponse document for ``argv``; never raises."""
    command = "?"
    try:
        call = read_call(argv)
        command = call.command + (" sr=%s" % call.sr_uuid if call.sr_uuid else "")
        text = smapi_call.response(dispatch(sr_class, driver_info, call))
        log("%s: ok" % command)
        return text
    except Exception as e:  # every failure becomes a fault: xapi reads only stdout
        try:
            code, reason = _fault_of(e)
        except Exception as inner:  # the error table itself is unreadable
            code, reason = 609, "Internal error in the driver [%s; %s]" % (e, inner)
        if code == 609:
            import traceback
            log("%s: internal error: %s" % (command, traceback.format_exc().replace("\n", " | ")))
        log("%s: fault %d: %s" % (command, code, reason))
        return smapi_call.fault(code, reason)


def main(sr_class, driver_info: dict, argv: list = None) -> int:
    """Entry point of a driver executable: print the answer, exit 0."""
    argv = sys.argv if argv is None else argv
    log = Log(os.path.basename(argv[0]) if argv else "SR")
    sys.stdout.write(answer(sr_class, driver_info, argv, log))
    sys.stdout.flush()
    return 0
