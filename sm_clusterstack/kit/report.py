"""The kit's outputs: the table printed for people and the JUnit XML read by CI servers.

The JUnit document follows the layout Jenkins and GitLab read (the Ant
``XMLJUnitResultFormatter`` shape): ``<testsuites>`` holding one
``<testsuite>`` per target and one ``<testcase>`` per check, with a
``<failure>``, ``<error>`` or ``<skipped>`` child when the check did not pass.
"""

import datetime
import re
import socket
import typing

from sm_clusterstack.kit import result as res

_HEADER = ("CHECK", "RESULT", "DETAIL")
CHECK_WIDTH = len("driver.required-cluster-stack")  # the longest check id: columns line up across blocks
# characters XML 1.0 cannot carry (a script's stderr may hold any byte)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with the characters XML cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def block(suite: res.Suite, width: int = CHECK_WIDTH) -> str:
    """One target's part of the table: a header line, then check, result and detail per line."""
    width = max([width, len(_HEADER[0])] + [len(r.check) for r in suite.results])
    row = "  %-" + str(width) + "s  %-6s  %s"
    lines = ["%s %s  (%s)" % (suite.kind, suite.name, suite.path), (row % _HEADER).rstrip()]
    for found in suite.results:
        lines.append((row % (found.check, found.result, _one_line(found.detail))).rstrip())
    return "\n".join(lines) + "\n\n"


def table(suites: typing.Sequence[res.Suite]) -> str:
    """The whole table: one block per target, then the summary line."""
    return "".join(block(suite) for suite in suites) + summary(suites) + "\n"


def summary(suites: typing.Sequence[res.Suite]) -> str:
    """One line: how many targets and checks, and how many of each result."""
    counts = [(name, sum(s.count(r) for s in suites)) for name, r in
              (("passed", res.PASS), ("failed", res.FAIL), ("skipped", res.SKIP), ("errors", res.ERROR))]
    total = sum(len(s.results) for s in suites)
    return "%d target%s, %d checks: %s" % (
        len(suites), "" if len(suites) == 1 else "s", total,
        ", ".join("%d %s" % (n, name) for name, n in counts))


def junit(suites: typing.Sequence[res.Suite], name: str = "sm-clusterstack kit") -> bytes:
    """The JUnit XML document of ``suites``."""
    from lxml import etree
    root = etree.Element("testsuites", name=name)
    _counts(root, suites)
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S")
    for index, suite in enumerate(suites):
        root.append(_testsuite(suite, index, stamp))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _counts(node, suites):
    node.set("tests", str(sum(len(s.results) for s in suites)))
    node.set("failures", str(sum(s.count(res.FAIL) for s in suites)))
    node.set("errors", str(sum(s.count(res.ERROR) for s in suites)))
    node.set("skipped", str(sum(s.count(res.SKIP) for s in suites)))
    node.set("time", "%.3f" % sum(s.seconds for s in suites))


def _testsuite(suite: res.Suite, index: int, stamp: str):
    from lxml import etree
    classname = "%s.%s" % (suite.kind, suite.name)
    node = etree.Element("testsuite", name=classname, id=str(index), package=suite.kind,
                         timestamp=stamp, hostname=socket.gethostname() or "localhost")
    _counts(node, [suite])
    props = etree.SubElement(node, "properties")
    etree.SubElement(props, "property", name="path", value=xml_text(suite.path))
    for found in suite.results:
        case = etree.SubElement(node, "testcase", name=found.check, classname=classname,
                                time="%.3f" % found.seconds)
        _outcome(case, found)
    etree.SubElement(node, "system-out").text = ""
    etree.SubElement(node, "system-err").text = ""
    return node


def _outcome(case, found: res.CheckResult) -> None:
    from lxml import etree
    tag = {res.FAIL: "failure", res.ERROR: "error", res.SKIP: "skipped"}.get(found.result)
    if tag is None:
        return
    child = etree.SubElement(case, tag, message=xml_text(_one_line(found.detail)))
    if tag != "skipped":
        child.set("type", found.check)
        child.text = xml_text(found.detail)
