"""Print the slowest tests of one or more pytest JUnit files, then the totals of all of them.

``make test`` runs pytest twice (side by side, then the ``alone`` tests)
and ends with this: ``python tests/slowest.py 15 parallel.xml alone.xml``.
A test's time is its setup, call and teardown together, as pytest writes
it into the JUnit file.  A file that is missing (a run that could not
start) is named and counts nothing.
"""

import sys
import typing

from sm_clusterstack import xmlsafe

Case = typing.Tuple[float, str, str]  # (seconds, test id, outcome)


def cases(path: str) -> typing.List[Case]:
    """Every testcase of the JUnit file ``path``."""
    found = []
    with open(path, "rb") as f:
        root = xmlsafe.parse(f.read(), path)
    for case in root.iter("testcase"):
        outcome = "passed"
        for child, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if case.find(child) is not None:
                outcome = name
        test_id = "%s::%s" % (case.get("classname", "").replace(".", "/") + ".py", case.get("name", ""))
        found.append((float(case.get("time") or 0), test_id, outcome))
    return found


def main(argv: typing.List[str]) -> int:
    count, paths = int(argv[0]), argv[1:]
    everything = []  # type: typing.List[Case]
    for path in paths:
        try:
            everything += cases(path)
        except (OSError, xmlsafe.XMLFormatError) as e:
            print("slowest: %s: %s" % (path, e))
    print("%d slowest tests (setup, call and teardown):" % count)
    for seconds, test_id, outcome in sorted(everything, reverse=True)[:count]:
        print("%8.2fs %s%s" % (seconds, test_id, "" if outcome == "passed" else " (%s)" % outcome))
    outcomes = [outcome for _s, _t, outcome in everything]
    print("total: %d passed, %d failed, %d skipped" % (
        outcomes.count("passed"), outcomes.count("failed") + outcomes.count("error"), outcomes.count("skipped")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
