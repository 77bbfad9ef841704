"""Fixtures shared by the functional tests; the helpers they build on are in ``helpers/``.

A module says what its tests get with a marker, the options of the
fixture of the same name (a test's own marker wins over its module's):

- ``pool``: the shim's fixture pool, ``helpers.shim.pool_for_test``;
  ``pytestmark = pytest.mark.pool(hosts=3)``, ``pool(pool_class=SandboxedPool)``,
  ``pool(start=False, kill=True)``.  Without a marker: two hosts, started.
  ``readonly_pool`` is the same pool made once for the module's tests that
  only read it (the module's marker applies); a test that changed it fails.
- ``xapi``: a recording xapi of one host and one detached SR,
  ``pytest.mark.xapi("ocfs2")`` naming the SR's type.
- ``pool3``: three corosync-ha hosts, ``pytest.mark.pool3(started=True)``
  when they are to be running already.

``py36_tree`` is ``helpers.py36`` once its tree is known to be usable.
"""

import os
import shutil
import tempfile

import pytest

from helpers import py36
from helpers.corosync_pool import CorosyncPool
from helpers.drivers import unmount_under
from helpers.shim import pool_for_test
from helpers.xapi_recorder import one_host_pool


def pytest_configure(config):
    for line in ("pool(**options): options of the pool fixture (helpers.shim.pool_for_test)",
                 "xapi(sr_type): the type of the SR of the xapi fixture",
                 "pool3(started=False): whether the pool3 fixture's hosts are started"):
        config.addinivalue_line("markers", line)


def _marker(request, name):
    """The closest ``name`` marker's (args, kwargs); ((), {}) without one."""
    marker = request.node.get_closest_marker(name)
    return (marker.args, marker.kwargs) if marker else ((), {})


BACKGROUND_NICENESS = 10


@pytest.fixture
def background_priority():
    """This test, and every process it starts, at nice 10 (as a batch job on a host would be).

    For a test whose load is its point, not its timing (the stress and crash
    tests: eight clients and a shim busy for minutes, to land operations in
    each other and SIGKILLs in operations): the load still interleaves as
    much, while the tests beside it that bound a stack's timing against its
    timeout still get the CPU a pool's control plane gets.  Linux keeps a
    niceness per thread, and children inherit the forking thread's: this
    test's thread is set, and set back after it.
    """
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICENESS)
    try:
        yield BACKGROUND_NICENESS
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


@pytest.fixture
def pool(request, tmp_path):
    """The shim's fixture pool (``helpers.shim.Pool``) as the ``pool`` marker says; stopped after the test."""
    with pool_for_test(tmp_path, **_marker(request, "pool")[1]) as built:
        yield built


READ_CLASSES = ("pool", "host", "PIF", "SR", "PBD", "VDI", "SM", "message")


def _records(pool):
    """Every record a test could change, by class."""
    return {name: getattr(pool.x, name).get_all_records() for name in READ_CLASSES}


@pytest.fixture(scope="module")
def _module_pool(request, tmp_path_factory):
    with pool_for_test(tmp_path_factory.mktemp("readonly-pool"), **_marker(request, "pool")[1]) as built:
        yield built


@pytest.fixture
def readonly_pool(_module_pool):
    """The module's one fixture pool, for a test that only reads it: it fails if the test changed a record."""
    before = _records(_module_pool)
    yield _module_pool
    assert _records(_module_pool) == before, "a test given readonly_pool changed the pool: give it `pool`"


@pytest.fixture
def xapi(request, tmp_path):
    """A recording xapi (``helpers.xapi_recorder``) of the marker's SR type; what the test mounted is unmounted."""
    (sr_type,), _ = _marker(request, "xapi")
    with one_host_pool(tmp_path, sr_type) as recording:
        yield recording
    unmount_under(tmp_path)


@pytest.fixture
def pool3(request, tmp_path):
    """Three sandboxed corosync-ha hosts (``helpers.corosync_pool``), started if the marker says so."""
    pool = CorosyncPool(tmp_path, 3)
    try:
        if _marker(request, "pool3")[1].get("started"):
            results = pool.start_all()
            assert all(r.ok for r in results), ["%s: %s" % (r.describe(), r.stderr) for r in results if not r.ok]
        yield pool
    finally:
        pool.teardown()


@pytest.fixture
def sockdir():
    """A private directory for a unix socket, its path without "_"."""
    # XenAPI's UDSTransport maps "_" in the host name to "/": a path without "_" is needed
    path = os.path.join(tempfile.gettempdir(), "shimsock%s" % os.urandom(6).hex())
    os.mkdir(path, 0o700)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="session")
def py36_tree():
    """``helpers.py36``'s tree: skipped where it is absent (no Python 3.6), failed when older than the sources."""
    reason = py36.absent()
    if reason:
        pytest.skip(reason)
    changed = py36.stale()
    if changed:
        pytest.fail("build/py36 does not hold %s as it is now: make py36" % changed)
    return py36
