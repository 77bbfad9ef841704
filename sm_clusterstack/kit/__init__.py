"""The conformance kit: checks a vendor's SR driver or cluster stack against xapi's rules.

Each check has a stable id (``stack.unsafe``, ``driver.info-member``, ...)
and ends PASS, FAIL, SKIP or ERROR with a one-line detail.  Checks report,
they do not crash: ``result`` holds the model, ``report`` the table and the
JUnit writer, ``stack_checks``/``driver_checks`` the checks themselves.
"""
