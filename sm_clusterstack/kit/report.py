"""The kit's outputs: the table printed for people and the JUnit XML read by CI servers.

The JUnit document is valid against both real consumers' schemas, the
Jenkins xunit plugin's ``junit-10.xsd`` and Ant's ``JUnit.xsd``, so it
holds only what both allow: a bare ``<testsuites>``; per target a
``<testsuite>`` (``properties``, the testcases, ``system-out``,
``system-err``, in that order); per check a ``<testcase>`` with at most one
``<failure>``, ``<error>`` or ``<skipped>`` child.  Ant's ``timestamp``
admits no zone: it is written in UTC, and the suite's start with its zone
is the ``started`` property.  Ant allows no output inside a testcase: what
each check's commands printed is in the suite's ``system-out`` /
``system-err``, one section per check, and in the body of its failure,
error or skipped element.  A WARN is a passing testcase (Ant's schema
allows it no child, no output and no property): its suite's properties carry
``warnings``, how many checks warned, and ``warning.<check>``, each
warning's text; the warnings also open the suite's ``system-out``, which
Jenkins' junit plugin shows as the output of every testcase that has none
of its own (``CaseResult.getStdout``).
"""

import datetime
import re
import socket
import typing

from sm_clusterstack.kit import result as res

_HEADER = ("CHECK", "RESULT", "DETAIL")
CANNOT_RUN = "kit.run"  # the one testcase of a run the kit could not make
CHECK_WIDTH = len("driver.required-cluster-stack")  # the longest check id: columns line up across blocks
# characters XML 1.0 cannot carry (a script's stderr may hold any byte)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with the characters XML cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def header(suite: res.Suite, width: int = CHECK_WIDTH) -> str:
    """The lines that open a target's block: what it is, then the column names."""
    return "%s %s  (%s)\n%s\n" % (suite.kind, suite.name, suite.path, row_text(_HEADER, width))


def row_text(cells: typing.Sequence[str], width: int = CHECK_WIDTH) -> str:
    """One row of the table: check, result, detail on one line."""
    return ("  %-*s  %-6s  %s" % (width, cells[0], cells[1], _one_line(cells[2]))).rstrip()


def row(found: res.CheckResult, width: int = CHECK_WIDTH) -> str:
    """The table's line for one check result."""
    return row_text((found.check, found.result, found.detail), width) + "\n"


def block(suite: res.Suite, width: int = CHECK_WIDTH) -> str:
    """One target's part of the table: a header line, then check, result and detail per line."""
    width = max([width, len(_HEADER[0])] + [len(r.check) for r in suite.results])
    return header(suite, width) + "".join(row(found, width) for found in suite.results) + "\n"


def table(suites: typing.Sequence[res.Suite]) -> str:
    """The whole table: one block per target, then the summary line."""
    return "".join(block(suite) for suite in suites) + summary(suites) + "\n"


def summary(suites: typing.Sequence[res.Suite]) -> str:
    """One line: how many targets and checks, and how many of each result."""
    counts = [(name, sum(s.count(r) for s in suites)) for name, r in
              (("passed", res.PASS), ("warned", res.WARN), ("failed", res.FAIL), ("skipped", res.SKIP),
               ("errors", res.ERROR))]
    total = sum(len(s.results) for s in suites)
    return "%d target%s, %d checks: %s" % (
        len(suites), "" if len(suites) == 1 else "s", total,
        ", ".join("%d %s" % (n, name) for name, n in counts))


def junit(suites: typing.Sequence[res.Suite]) -> bytes:
    """The JUnit XML document of ``suites``, valid against Jenkins xunit's junit-10.xsd and Ant's JUnit.xsd."""
    from lxml import etree
    root = etree.Element("testsuites")  # Ant's schema allows no attribute here
    for index, suite in enumerate(suites):
        root.append(_testsuite(suite, index))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def junit_error(message: str, started: typing.Optional[datetime.datetime] = None) -> bytes:
    """A JUnit document for a run the kit could not make: one suite, one testcase with an <error>."""
    suite = res.Suite("kit", "run", "")
    suite.started = started or suite.started
    suite.add(CANNOT_RUN, res.ERROR, message)
    return junit([suite])


def _counts(node, suites):
    node.set("tests", str(sum(len(s.results) for s in suites)))
    node.set("failures", str(sum(s.count(res.FAIL) for s in suites)))
    node.set("errors", str(sum(s.count(res.ERROR) for s in suites)))
    node.set("skipped", str(sum(s.count(res.SKIP) for s in suites)))
    node.set("time", "%.3f" % sum(s.seconds for s in suites))


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _testsuite(suite: res.Suite, index: int):
    from lxml import etree
    classname = "%s.%s" % (suite.kind, suite.name)
    node = etree.Element("testsuite", name=classname, id=str(index), package=suite.kind,
                         timestamp=_utc(suite.started), hostname=socket.gethostname() or "localhost")
    _counts(node, [suite])
    props = etree.SubElement(node, "properties")
    for name, value in _properties(suite):
        etree.SubElement(props, "property", name=name, value=xml_text(value))
    for found in suite.results:
        case = etree.SubElement(node, "testcase", name=found.check, classname=classname,
                                time="%.3f" % found.seconds)
        _outcome(case, found)
    etree.SubElement(node, "system-out").text = xml_text(_sections(suite, "stdout"))
    etree.SubElement(node, "system-err").text = xml_text(_sections(suite, "stderr"))
    return node


def _properties(suite: res.Suite) -> typing.List[typing.Tuple[str, str]]:
    """The suite's properties: where and when, how many checks warned, and each warning's text."""
    warned = [found for found in suite.results if found.result == res.WARN]
    return [("path", suite.path), ("started", suite.started.isoformat(timespec="seconds")),
            ("warnings", str(len(warned)))] + [("warning." + f.check, _one_line(f.detail)) for f in warned]


def _sections(suite: res.Suite, stream: str) -> str:
    """The suite's captured ``stream``, one section per check that printed anything; stdout opens with the warnings.

    Jenkins' junit plugin shows a testcase with no output of its own the
    suite's (``CaseResult.getStdout``): the warnings head what each shows.
    """
    warned = [found for found in suite.results if found.result == res.WARN]
    parts = ["===== %d warning%s\n%s" % (len(warned), "" if len(warned) == 1 else "s", "".join(
        "WARNING %s: %s\n" % (found.check, _one_line(found.detail)) for found in warned))] \
        if warned and stream == "stdout" else []
    for found in suite.results:
        text = getattr(found, stream)
        if text:
            parts.append("===== %s (%s)\n%s" % (found.check, found.result, text))
    return "".join(parts)


def _outcome(case, found: res.CheckResult) -> None:
    from lxml import etree
    tag = {res.FAIL: "failure", res.ERROR: "error", res.SKIP: "skipped"}.get(found.result)
    if tag is None:
        return
    child = etree.SubElement(case, tag, message=xml_text(_one_line(found.detail)))
    body = [found.detail]
    for stream in ("stdout", "stderr"):
        if getattr(found, stream):
            body.append("----- %s of the commands this check ran:\n%s" % (stream, getattr(found, stream)))
    child.text = xml_text("\n".join(body))
    if tag != "skipped":  # Ant's schema: type is required on failure and error, and not allowed on skipped
        child.set("type", found.check)
