"""The kit's result model, its table and its JUnit XML (validated against a Jenkins-style XSD)."""

import os

import pytest
from lxml import etree

from sm_clusterstack.kit import report
from sm_clusterstack.kit import result as res

JUNIT_XSD = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kit", "junit.xsd")


def _suites():
    stack = res.Suite("stack", "corosync", "/usr/libexec/xapi/cluster-stack/corosync")
    stack.add("stack.name", res.PASS, "'corosync' is a valid stack name")
    stack.add("stack.liveset-schema", res.FAIL, "schema: missing <status>\nsecond line")
    stack.add("stack.start-daemon", res.SKIP, "engine absent: corosync is not installed")
    driver = res.Suite("driver", "OCFS2SR", "/opt/xensource/sm/OCFS2SR")
    driver.add("driver.info", res.ERROR, "kit error: \x01 bad \x1b[0m bytes")
    driver.add("driver.bad-input", res.PASS, "all 28 malformed calls answered with a fault")
    return [stack, driver]


def _schema():
    with open(JUNIT_XSD, "rb") as f:
        return etree.XMLSchema(etree.fromstring(f.read()))


def test_unknown_result_is_refused():
    with pytest.raises(ValueError):
        res.CheckResult("stack.name", "OK")


def test_exit_code_is_0_when_nothing_failed_even_with_skips():
    suite = res.Suite("stack", "x", "/x")
    suite.add("stack.name", res.PASS)
    suite.add("stack.start-daemon", res.SKIP, "engine absent")
    assert res.exit_code([suite]) == res.EXIT_OK


@pytest.mark.parametrize("outcomes,code", [
    ([res.FAIL], res.EXIT_FAILED),
    ([res.FAIL, res.ERROR], res.EXIT_FAILED),
    ([res.ERROR], res.EXIT_CANNOT_RUN),
])
def test_exit_code_is_1_on_a_failure_else_2_when_a_check_could_not_run(outcomes, code):
    suite = res.Suite("stack", "x", "/x")
    suite.add("stack.name", res.PASS)
    for number, outcome in enumerate(outcomes):
        suite.add("stack.check%d" % number, outcome, "detail")
    assert res.exit_code([suite]) == code
    assert suite.failing() == ["stack.check%d" % n for n in range(len(outcomes))]


def test_table_has_one_line_per_check_with_result_and_detail():
    text = report.table(_suites())
    lines = text.splitlines()
    assert "stack corosync  (/usr/libexec/xapi/cluster-stack/corosync)" in lines
    row = [line for line in lines if "stack.liveset-schema" in line][0]
    assert row.split()[:2] == ["stack.liveset-schema", "FAIL"]
    assert row.endswith("schema: missing <status> second line")
    assert lines[-1] == "2 targets, 5 checks: 2 passed, 1 failed, 1 skipped, 1 errors"


def test_junit_validates_against_the_jenkins_schema():
    document = etree.fromstring(report.junit(_suites()))
    schema = _schema()
    assert schema.validate(document), schema.error_log


def test_junit_counts_and_outcomes_read_back():
    root = etree.fromstring(report.junit(_suites()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "1", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["stack.corosync", "driver.OCFS2SR"]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["stack.liveset-schema"].find("failure").get("type") == "stack.liveset-schema"
    assert "missing <status>" in cases["stack.liveset-schema"].find("failure").text
    assert cases["stack.start-daemon"].find("skipped").get("message") == "engine absent: corosync is not installed"
    assert cases["driver.info"].find("error") is not None
    assert len(cases["stack.name"]) == 0
    assert cases["stack.name"].get("classname") == "stack.corosync"


def test_junit_replaces_characters_xml_cannot_carry():
    root = etree.fromstring(report.junit(_suites()))
    error = [c for c in root.iter("testcase") if c.get("name") == "driver.info"][0].find("error")
    assert "\ufffd bad \ufffd[0m bytes" in error.text


def test_junit_of_no_suite_is_still_valid():
    assert _schema().validate(etree.fromstring(report.junit([])))


def test_junit_schema_rejects_a_testcase_without_name():
    bad = b'<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>'
    assert not _schema().validate(etree.fromstring(bad))


def test_every_check_id_has_a_description_and_is_unique():
    from sm_clusterstack.kit import catalog
    ids = catalog.stack_checks() + catalog.driver_checks()
    assert len(ids) == len(set(ids)) == len(catalog.DESCRIPTIONS)
    assert set(ids) == set(catalog.DESCRIPTIONS)
    assert all(i.startswith(("stack.", "driver.")) for i in ids)
    assert catalog.listing().count("\n") == len(ids)
