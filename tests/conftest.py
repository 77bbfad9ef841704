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
import typing

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


def worksteal_blocks(count: int, workers: int) -> typing.List[int]:
    """How many of ``count`` tests xdist's worksteal first sends each of ``workers`` workers, in order.

    ``WorkStealingScheduling.check_schedule``: each idle worker in turn gets
    ``len(pending) // workers_remaining`` of the pending tests, a contiguous run.
    """
    sizes, left = [], count
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def interleave(ranked: list, workers: int, dealt: int) -> list:
    """``ranked`` (longest first) reordered so that each worker's first block opens with every
    ``workers``-th of the ``dealt`` long tests, then a contiguous run of the rest.

    A worker then starts with its share of the long tests, longest first,
    instead of the first worker getting all of them; a worker that runs out
    steals from another's tail, its short tests.  The short ones stay in
    runs, in collection order: a module's tests that share a module-scoped
    pool stay together on one worker.
    """
    sizes = worksteal_blocks(len(ranked), workers)
    blocks = [[] for _ in range(workers)]  # type: typing.List[list]
    turn = 0
    for item in ranked[:dealt]:
        while len(blocks[turn]) == sizes[turn]:
            turn = (turn + 1) % workers
        blocks[turn].append(item)
        turn = (turn + 1) % workers
    rest = iter(ranked[dealt:])
    for block, size in zip(blocks, sizes):
        block.extend(next(rest) for _ in range(size - len(block)))
    return [item for block in blocks for item in block]


@pytest.hookimpl(trylast=True)  # after pytest groups the tests of a module-scoped fixture, and deselects
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: -expected_seconds(item))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))  # set in xdist's workers, which collect
    if hasattr(config, "workerinput") and workers > 1:  # (a worker's own dist option is "no": make uses worksteal)
        items[:] = interleave(list(items), workers, sum(1 for item in items if expected_seconds(item) > 0))
