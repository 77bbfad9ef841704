"""The conformance kit: checks a vendor's SR driver or cluster stack against xapi's rules.

Each check has a stable id (``stack.unsafe``, ``driver.info-member``, ...)
and ends PASS, FAIL, SKIP or ERROR with a one-line detail; checks report,
they do not crash.  ``check`` is the entry point (one stack, one driver,
everything); ``result`` holds the model and the exit code, ``report`` the
table and the JUnit writer, ``catalog`` every check's description.
Stacks: ``stack_static``, then ``stack_live`` in a ``sandbox`` through
``stack_probe``.  Drivers: ``driver_static``, ``driver_badinput`` (its cases
and their rules in ``badinput_cases``; the device_config ones sent on the
``pool``), then ``driver_pool`` on the ``pool`` (the shim in-process, with the kit's
``statefile_sr`` heartbeat driver and ``devices`` for device_config).
"""
