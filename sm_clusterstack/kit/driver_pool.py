"""The attach-time rule, checked on the embedded pool.

With HA enabled on a stack the driver does not allow, attaching its SR is
refused with the exclusion fault: the kit runs the driver's ``sr_attach``
directly, as a stock xapi would (which does not know
``required_cluster_stack``, so the driver's own check is the only guard),
and expects SM fault 605, i.e. INCOMPATIBLE_CLUSTER_STACK_ACTIVE through
XenAPI; it also plugs the PBD through the pool's XenAPI.  With HA on each
compatible stack in turn (every stack of ``required_cluster_stack``)
neither is refused for that reason.

What passes attach-compatible must have been seen: an attach, or a fault
of the storage (not the exclusion) that the driver's own error table names
(``error_table``: XE_SR_ERRORCODES.xml beside it, as stock sm keeps it, else
the project's SM table), from a driver that is seen to refuse the
incompatible stack (or declares no constraint).  A fault no table names
(sm's XenError answers 1 for a key its table lacks) fails.  ``sr_attach`` not
implemented (38: xapi's PBD.plug always runs it) or errors the driver
cannot build fail; a general failure before any decision (sm's SMGeneral
1200, e.g. ``[Errno 2]`` from a pool the driver could not reach, a
traceback, a timeout) is SKIP: the kit could not observe the rule.
"""

import os
import typing
import uuid

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit.pool import BASE_STACKS, OTHER_STACK, EmbeddedPool

SM_RECORD = "driver.sm-record"
ATTACH_EXCLUSION = "driver.attach-exclusion"
ATTACH_COMPATIBLE = "driver.attach-compatible"
CHECKS = (SM_RECORD, ATTACH_EXCLUSION, ATTACH_COMPATIBLE)
REFUSED = errors.INCOMPATIBLE_CLUSTER_STACK_ACTIVE


def _failure(e: Exception) -> typing.Tuple[str, typing.List[str]]:
    if isinstance(e, XenAPIError):
        return e.code, list(e.params)
    details = list(getattr(e, "details", None) or [type(e).__name__, str(e)])
    return str(details[0]), [str(d) for d in details[1:]]


def attempt(func: typing.Callable[[], typing.Any]) -> typing.Optional[typing.Tuple[str, typing.List[str]]]:
    """None when ``func`` succeeded, else the (code, params) it failed with."""
    try:
        func()
        return None
    except Exception as e:  # XenAPIError from a direct run, XenAPI.Failure through the pool
        return _failure(e)


def describe(outcome: typing.Optional[typing.Tuple[str, typing.List[str]]]) -> str:
    """One phrase for an attempt's outcome: attached, or the error code and its first non-empty param."""
    if outcome is None:
        return "attached"
    params = [" ".join(p.split()) for p in outcome[1] if p.strip()][:1]
    return "answered %s%s" % (outcome[0], (" " + repr(params[0][:160])) if params else "")


def outcomes(stack: str, direct: typing.Any, plugged: typing.Any) -> str:
    """The detail of an attach check: what sr_attach and PBD.plug did with HA on ``stack``."""
    if describe(direct) == describe(plugged):
        return "HA on %s: sr_attach and PBD.plug both %s" % (stack, describe(direct))
    return "HA on %s: sr_attach %s; PBD.plug %s" % (stack, describe(direct), describe(plugged))


class SRUnderTest(object):
    """The SR of the driver under test on the embedded pool, attached two ways."""

    def __init__(self, pool: EmbeddedPool, sr_type: str, device_config: typing.Dict[str, str]) -> None:
        self.pool = pool
        self.device_config = dict(device_config)
        self.sr_uuid = str(uuid.uuid4())
        self.sr = pool.api.SR.introduce(self.sr_uuid, "kit SR under test", "", sr_type, "", True, {})
        self.pbd = pool.api.PBD.create({"host": pool.host(), "SR": self.sr, "device_config": self.device_config,
                                        "other_config": {}})

    def _params(self) -> typing.Dict[str, typing.Any]:
        return {"host_ref": self.pool.host(), "device_config": self.device_config, "sr_ref": self.sr,
                "sr_uuid": self.sr_uuid, "sr_sm_config": {}, "args": [], "session_ref": self.pool.session_ref}

    def direct(self, command: str) -> typing.Any:
        """Run ``command`` of the driver directly on the pool's host, as a stock xapi would."""
        return self.pool.call_driver(command, self._params())

    def both(self) -> typing.Tuple[typing.Any, typing.Any]:
        """Outcomes of a direct sr_attach and of PBD.plug, each undone if it attached."""
        direct = attempt(lambda: self.direct("sr_attach"))
        if direct is None:
            attempt(lambda: self.direct("sr_detach"))
        plugged = attempt(lambda: self.pool.api.PBD.plug(self.pbd))
        if plugged is None:
            attempt(lambda: self.pool.api.PBD.unplug(self.pbd))
        return direct, plugged


def check_sm_record(pool: EmbeddedPool, sr_type: str, required: typing.List[str]) -> typing.Tuple[str, str]:
    """The pool's sm-dir scan registered the driver with the stacks it declared."""
    records = [r for r in pool.api.SM.get_all_records().values() if r["type"] == sr_type]
    if not records:
        why = " ".join(" ".join(pool.warnings_about(pool.driver)).split())[:600]
        return res.FAIL, "the pool's scan of the sm-dir did not register SR type %s%s" % (
            sr_type, (": " + why) if why else "")
    found = sorted(records[0].get("required_cluster_stack", []))
    if found != sorted(required):
        return res.FAIL, "SM.required_cluster_stack is %s, the driver declared %s" % (found, required)
    return res.PASS, "SM %s registered, required_cluster_stack %s" % (sr_type, required)


def incompatible_stack(required: typing.List[str]) -> str:
    """A stack the driver does not allow."""
    return [s for s in BASE_STACKS + (OTHER_STACK,) if s not in required][0]


def check_exclusion(pool: EmbeddedPool, sr: SRUnderTest, hb: str,
                    required: typing.List[str]) -> typing.Tuple[str, str]:
    """HA on a stack not allowed: sr_attach and PBD.plug both refused with the exclusion fault."""
    if not required:
        return res.SKIP, "not applicable: required_cluster_stack is [] (no constraint), every stack is compatible"
    stack = incompatible_stack(required)
    direct, plugged = _with_ha(pool, hb, stack, sr)
    detail = outcomes(stack, direct, plugged)
    wanted = sorted(required)
    if direct is None or plugged is None:
        return res.FAIL, "attached under an incompatible stack: " + detail
    if direct[0] != REFUSED or sorted(",".join(direct[1]).split(",")) != wanted:
        return res.FAIL, "expected %s %s from the driver; %s" % (REFUSED, ",".join(wanted), detail)
    if plugged[0] != REFUSED:
        return res.FAIL, "expected %s from PBD.plug; %s" % (REFUSED, detail)
    return res.PASS, detail


ATTACHED, REFUSAL, NOT_IMPLEMENTED, NO_ERRORS, GENERAL, STORAGE, UNNAMED = (
    "attached", "refused", "not implemented", "cannot build its errors", "general failure", "storage fault",
    "fault its error table does not name")
STOCK_TABLE = "XE_SR_ERRORCODES.xml"  # where a stock sm driver's codes are (xapi-project/sm xs_errors.XML_DEFS)


class ErrorTable(object):
    """The SM fault codes a driver answers with a meaning: its own table, where it keeps one."""

    def __init__(self, path: str, codes: typing.Optional[typing.FrozenSet[int]]) -> None:
        self.path = path
        self.codes = codes  # None: the table could not be read (every code unnamed)

    def names(self, code: int) -> bool:
        """True when the table has an entry for ``code``."""
        return self.codes is not None and code in self.codes


def error_table(driver_path: str, given: str = "") -> ErrorTable:
    """The driver's error table: ``given``, else XE_SR_ERRORCODES.xml beside it, else the project's SM table.

    Stock sm drivers read XE_SR_ERRORCODES.xml from the sm install
    (``xs_errors.py`` ``XML_DEFS``); drivers on this project's library answer
    the codes of ``data/sm_errorcodes.xml`` (docs/drivers.md "SM faults").
    """
    beside = [os.path.join(os.path.dirname(p), STOCK_TABLE) for p in (driver_path, os.path.realpath(driver_path))]
    path = given or next((p for p in beside if os.path.isfile(p)), errors.ERROR_TABLE)
    try:
        return ErrorTable(path, frozenset(entry.value for entry in errors.sm_error_table(path).values()))
    except Exception:  # a table that cannot be read names nothing; the detail says which file
        return ErrorTable(path, None)


GENERAL_FAULT = "%s_1200" % errors.SR_BACKEND_FAILURE_PREFIX  # sm's SMGeneral: an exception the driver did not expect


def classify(outcome: typing.Optional[typing.Tuple[str, typing.List[str]]],
             table: typing.Optional[ErrorTable] = None) -> str:
    """What an attach attempt shows: attached, refused, not implemented, ... (see the module doc)."""
    if outcome is None:
        return ATTACHED
    code, text = outcome[0], " ".join(outcome[1])
    if code == REFUSED:
        return REFUSAL
    if code == errors.SR_OPERATION_NOT_SUPPORTED:
        return NOT_IMPLEMENTED
    if "No XML def file" in text:
        return NO_ERRORS
    if code in (GENERAL_FAULT, errors.SR_BACKEND_FAILURE_PREFIX) or not code.isupper():
        return GENERAL
    number = code[len(errors.SR_BACKEND_FAILURE_PREFIX) + 1:]
    if table is not None and code.startswith(errors.SR_BACKEND_FAILURE_PREFIX + "_") and number.isdigit() \
            and not table.names(int(number)):
        return UNNAMED
    return STORAGE


def check_compatible(pool: EmbeddedPool, sr: SRUnderTest, hb: str, required: typing.List[str],
                     refuses_others: bool = False,
                     table: typing.Optional[ErrorTable] = None) -> typing.Tuple[str, str]:
    """HA on each allowed stack in turn: neither sr_attach nor PBD.plug refused for the cluster stack."""
    table = table or error_table(pool.driver)
    details, seen = [], set()
    for stack in required or ["xhad"]:
        direct, plugged = _with_ha(pool, hb, stack, sr)
        details.append(outcomes(stack, direct, plugged))
        seen.update((stack, classify(o, table)) for o in (direct, plugged))
    detail = "; ".join(details)
    if STORAGE in set(kind for _stack, kind in seen):
        detail += " (named by its error table %s)" % table.path
    return _compatible_verdict(seen, detail, bool(required), refuses_others, table.path)


def _compatible_verdict(seen: typing.Set[typing.Tuple[str, str]], detail: str, constrained: bool,
                        refuses_others: bool, table: str = "") -> typing.Tuple[str, str]:
    kinds = set(kind for _stack, kind in seen)
    unnamed = ("a fault its error table %s does not name (%%s): xapi shows SR_BACKEND_FAILURE_<n> with no meaning, "
               "and the kit saw no attach; sm's XenError answers 1 for a key missing from its table" % table)
    for kind, why in ((REFUSAL, "refused under a compatible stack (%s)"),
                      (NOT_IMPLEMENTED, "sr_attach is not implemented, and xapi's PBD.plug always runs it (%s)"),
                      (NO_ERRORS, "the driver cannot build its errors (%s)"), (UNNAMED, unnamed)):
        if kind in kinds:
            stacks_ = ", ".join(sorted(stack for stack, k in seen if k == kind))
            return res.FAIL, (why % stacks_) + ": " + detail
    if GENERAL in kinds:
        return res.SKIP, ("could not observe the rule: the driver failed before deciding anything (a general "
                          "error, not a fault of its storage; the kit's pool is where stock drivers look for it: "
                          "the session on /var/lib/xcp/xapi, this host in /etc/xensource-inventory): " + detail)
    if kinds == {ATTACHED}:
        return res.PASS, "attached: " + detail
    if constrained and not refuses_others:
        return res.SKIP, ("could not observe the rule: a storage fault under the allowed stacks, and the driver "
                          "was not seen refusing an incompatible one (see %s): %s" % (ATTACH_EXCLUSION, detail))
    why = "refuses the incompatible stack and" if constrained else "declares no constraint and"
    return res.PASS, "no exclusion fault: the driver %s answered its storage's fault: %s" % (why, detail)


def _with_ha(pool: EmbeddedPool, hb: str, stack: str, sr: SRUnderTest) -> typing.Tuple[typing.Any, typing.Any]:
    pool.enable_ha(hb, stack)
    try:
        return sr.both()
    finally:
        pool.disable_ha()


def run(suite: res.Suite, pool: EmbeddedPool, sr_type: str, required: typing.List[str],
        device_config: typing.Dict[str, str], table: str = "") -> None:
    """Record the pool checks of the driver in ``suite`` (the pool is started and closed by the caller)."""
    suite.mark()
    try:
        verdict = check_sm_record(pool, sr_type, required)
    except Exception as e:
        verdict = (res.ERROR, "kit error: %s: %s" % _failure(e))
    suite.add(SM_RECORD, *verdict)
    if verdict[0] != res.PASS:
        for check in CHECKS[1:]:
            suite.add(check, res.SKIP, "not run: %s did not pass" % SM_RECORD)
        return
    try:
        hb = pool.heartbeat_sr()
        sr = SRUnderTest(pool, sr_type, device_config)
    except Exception as e:
        for check in CHECKS[1:]:
            suite.add(check, res.ERROR, "kit error setting up the pool: %s %s" % _failure(e))
        return
    suite.mark()
    try:
        suite.add(ATTACH_EXCLUSION, *check_exclusion(pool, sr, hb, required))
    except Exception as e:
        suite.add(ATTACH_EXCLUSION, res.ERROR, "kit error: %s %s" % _failure(e))
    refuses = suite.get(ATTACH_EXCLUSION).result == res.PASS
    suite.mark()
    try:
        suite.add(ATTACH_COMPATIBLE, *check_compatible(pool, sr, hb, required, refuses,
                                                       error_table(pool.driver, table)))
    except Exception as e:
        suite.add(ATTACH_COMPATIBLE, res.ERROR, "kit error: %s %s" % _failure(e))
