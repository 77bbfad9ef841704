"""How the whole suite runs: the markers ``slow`` and ``alone``, and the slowest tests first.

``make test`` runs the suite twice (docs/development.md): every test not
marked ``alone`` side by side (pytest-xdist), then the ``alone`` ones one at
a time.  ``make check`` leaves out the ``slow`` ones as well.

- ``slow(seconds)``: a test that runs real daemons (xhad, corosync), the
  kit's sandboxed stack checks, a build or a load, for about ``seconds`` on
  an idle machine.  Tests are handed out longest first (a stable sort on
  that figure), so that the parallel run does not end on one long test
  started last.
- ``alone``: a test whose claim needs the machine to itself (it measures
  time against a bound no allowance makes safe under load).
"""

import os

import pytest

from sm_clusterstack import hostsandbox


def pytest_configure(config):
    if os.geteuid() == 0:  # a reboot(2) of corosync-ha's fence outside a host sandbox is refused on this machine
        hostsandbox.mark_machine()
    for line in ("slow(seconds): real daemons, builds or load for about that long; not in make check, run first",
                 "alone: needs the machine to itself; make test runs it after the parallel run, one at a time"):
        config.addinivalue_line("markers", line)


def expected_seconds(item: pytest.Item) -> float:
    """The ``slow`` marker's estimate of ``item``, 0 without one."""
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker and marker.args else 0.0


@pytest.hookimpl(trylast=True)  # after pytest groups the tests of a module-scoped fixture
def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: -expected_seconds(item))
