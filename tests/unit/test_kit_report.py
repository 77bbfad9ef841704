"""The kit's result model, its table and its JUnit XML.

The JUnit XML is validated against the schemas of two real consumers, kept
outside the project in ``shared/thirdparty/junit`` (found by walking up from
the clone, or at $SM_CLUSTERSTACK_THIRDPARTY): the Jenkins xunit plugin's
``junit-10.xsd`` and Ant's ``JUnit.xsd``.
"""

import datetime
import os

import pytest
from lxml import etree

from sm_clusterstack.kit import report
from sm_clusterstack.kit import result as res

SCHEMAS = ("jenkins-junit-10.xsd", "ant-JUnit.xsd")


def _junit_dir():
    found = os.environ.get("SM_CLUSTERSTACK_THIRDPARTY")
    if found:
        return os.path.join(found, "junit")
    here = os.path.abspath(os.path.dirname(__file__))
    while os.path.dirname(here) != here:
        here = os.path.dirname(here)
        if os.path.isdir(os.path.join(here, "shared", "thirdparty", "junit")):
            return os.path.join(here, "shared", "thirdparty", "junit")
    return None


def schemas():
    """The two real JUnit schemas; skip (saying why) where the third-party folder is absent."""
    folder = _junit_dir()
    if folder is None or not all(os.path.isfile(os.path.join(folder, n)) for n in SCHEMAS):
        pytest.skip("the JUnit schemas are not here: no shared/thirdparty/junit above the clone "
                    "and no $SM_CLUSTERSTACK_THIRDPARTY")
    found = []
    for name in SCHEMAS:
        with open(os.path.join(folder, name), "rb") as f:
            found.append((name, etree.XMLSchema(etree.fromstring(f.read()))))
    return found


def assert_valid(document):
    for name, schema in schemas():
        assert schema.validate(document), (name, schema.error_log)


ZONE = datetime.timezone(datetime.timedelta(hours=2))


def _suites():
    stack = res.Suite("stack", "corosync", "/usr/libexec/xapi/cluster-stack/corosync")
    stack.started = datetime.datetime(2026, 12, 1, 18, 30, 5, tzinfo=ZONE)
    stack.add("stack.name", res.PASS, "'corosync' is a valid stack name")
    stack.capture("ha_query_liveset", "<ha_liveset_info/>\n", "warning: \x07 bell")
    stack.add("stack.liveset-schema", res.FAIL, "schema: missing <status>\nsecond line")
    stack.add("stack.start-daemon", res.SKIP, "engine absent: corosync is not installed")
    driver = res.Suite("driver", "OCFS2SR", "/opt/xensource/sm/OCFS2SR")
    driver.started = datetime.datetime(2026, 12, 1, 16, 31, 0, tzinfo=datetime.timezone.utc)
    driver.add("driver.info", res.ERROR, "kit error: \x01 bad \x1b[0m bytes")
    driver.add("driver.bad-input", res.PASS, "all 28 malformed calls answered with a fault")
    return [stack, driver]


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
    assert lines[-1] == "2 targets, 5 checks: 2 passed, 0 warned, 1 failed, 1 skipped, 1 errors"


def test_junit_validates_against_the_jenkins_and_ant_schemas():
    assert_valid(etree.fromstring(report.junit(_suites())))


def test_junit_counts_and_outcomes_read_back():
    root = etree.fromstring(report.junit(_suites()))
    assert root.tag == "testsuites" and dict(root.attrib) == {}
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["stack.corosync", "driver.OCFS2SR"]
    assert [(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) for s in suites] == [
        ("3", "1", "0", "1"), ("2", "0", "1", "0")]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["stack.liveset-schema"].find("failure").get("type") == "stack.liveset-schema"
    assert "missing <status>" in cases["stack.liveset-schema"].find("failure").text
    assert cases["stack.start-daemon"].find("skipped").get("message") == "engine absent: corosync is not installed"
    assert cases["driver.info"].find("error") is not None
    assert len(cases["stack.name"]) == 0
    assert cases["stack.name"].get("classname") == "stack.corosync"


def test_each_suite_has_its_own_start_in_utc_and_with_its_zone():
    suites = etree.fromstring(report.junit(_suites())).findall("testsuite")
    assert [s.get("timestamp") for s in suites] == ["2026-12-01T16:30:05", "2026-12-01T16:31:00"]
    started = [s.find("properties/property[@name='started']").get("value") for s in suites]
    assert started == ["2026-12-01T18:30:05+02:00", "2026-12-01T16:31:00+00:00"]


def test_a_suite_starts_when_it_is_made_in_the_local_zone():
    before = datetime.datetime.now(datetime.timezone.utc)
    suite = res.Suite("stack", "x", "/x")
    assert suite.started.tzinfo is not None and suite.started >= before.replace(microsecond=0)


def test_captured_output_goes_with_its_check():
    root = etree.fromstring(report.junit(_suites()))
    stack = root.find("testsuite")
    assert "===== stack.liveset-schema (FAIL)\n$ ha_query_liveset\n<ha_liveset_info/>" in stack.find("system-out").text
    assert "warning: \ufffd bell" in stack.find("system-err").text
    failure = [c for c in stack.iter("testcase") if c.get("name") == "stack.liveset-schema"][0].find("failure")
    assert "<ha_liveset_info/>" in failure.text and "stack.name" not in stack.find("system-out").text


def test_junit_replaces_characters_xml_cannot_carry():
    root = etree.fromstring(report.junit(_suites()))
    error = [c for c in root.iter("testcase") if c.get("name") == "driver.info"][0].find("error")
    assert "\ufffd bad \ufffd[0m bytes" in error.text


def test_junit_of_no_suite_is_still_valid():
    assert_valid(etree.fromstring(report.junit([])))


def test_junit_of_a_run_that_could_not_be_made_is_one_error_testcase():
    root = etree.fromstring(report.junit_error("no such target: /nope"))
    assert_valid(root)
    cases = list(root.iter("testcase"))
    assert [(c.get("name"), c.find("error").get("message")) for c in cases] == [("kit.run", "no such target: /nope")]


def test_the_schemas_reject_what_the_old_report_wrote():
    """Attributes on <testsuites> (as the kit wrote before) are invalid in Ant's schema."""
    document = etree.fromstring(report.junit(_suites()))
    document.set("tests", "5")
    assert not dict(schemas())["ant-JUnit.xsd"].validate(document)


def test_every_check_id_has_a_description_and_is_unique():
    from sm_clusterstack.kit import catalog
    ids = catalog.stack_checks() + catalog.driver_checks()
    assert len(ids) == len(set(ids)) == len(catalog.DESCRIPTIONS)
    assert set(ids) == set(catalog.DESCRIPTIONS)
    assert all(i.startswith(("stack.", "driver.")) for i in ids)
    assert catalog.listing().count("\n") == len(ids)


def _warned():
    suite = res.Suite("driver", "NoclusterstackSR", "/opt/xensource/sm/NoclusterstackSR")
    suite.add("driver.info", res.PASS, "answered a struct")
    suite.add("driver.required-cluster-stack", res.WARN,
              "member required_cluster_stack is missing: xapi takes it as []")
    suite.add("driver.bad-input", res.PASS, "all 28 malformed calls answered with a fault")
    return suite


def test_a_warning_is_visible_to_junit_consumers_as_suite_properties():
    """Ant's schema allows nothing in a passing <testcase> (no system-out, no properties): a WARN stays a
    passing testcase, and its text and the count are properties of its suite, valid in both schemas."""
    root = etree.fromstring(report.junit([_warned()]))
    assert_valid(root)
    props = {p.get("name"): p.get("value") for p in root.find("testsuite").iter("property")}
    assert props["warnings"] == "1"
    assert props["warning.driver.required-cluster-stack"] == (
        "member required_cluster_stack is missing: xapi takes it as []")
    case = [c for c in root.iter("testcase") if c.get("name") == "driver.required-cluster-stack"][0]
    assert len(case) == 0  # a pass: no failure, error or skipped
    # jenkinsci/junit-plugin CaseResult.getStdout: a testcase without system-out shows its suite's, which opens so
    assert root.find("testsuite/system-out").text.startswith(
        "===== 1 warning\nWARNING driver.required-cluster-stack: member required_cluster_stack is missing")


@pytest.mark.parametrize("child,jenkins", [("system-out", True), ("properties", False)])
def test_ants_schema_allows_a_passing_testcase_no_output_nor_property(child, jenkins):
    """Why the warning is not inside its testcase: Ant's JUnit.xsd refuses both there (Jenkins' only properties)."""
    root = etree.fromstring(report.junit([_warned()]))
    case = [c for c in root.iter("testcase") if c.get("name") == "driver.required-cluster-stack"][0]
    etree.SubElement(case, child)
    found = dict(schemas())
    assert not found["ant-JUnit.xsd"].validate(root)
    assert found["jenkins-junit-10.xsd"].validate(root) == jenkins


def test_a_suite_without_warnings_says_0():
    props = {p.get("name"): p.get("value") for p in etree.fromstring(report.junit(_suites())).iter("property")}
    assert props["warnings"] == "0" and not any(name.startswith("warning.") for name in props)
