"""Fixtures shared by the functional tests; the helpers they build on are in ``helpers/``.

A module says what its tests get with a marker, the options of the
fixture of the same name (a test's own marker wins over its module's):

- ``pool``: the shim's fixture pool, ``helpers.shim.pool_for_test``;
  ``pytestmark = pytest.mark.pool(hosts=3)``, ``pool(pool_class=SandboxedPool)``,
  ``pool(start=False, kill=True)``.  Without a marker: two hosts, started.
- ``xapi``: a recording xapi of one host and one detached SR,
  ``pytest.mark.xapi("ocfs2")`` naming the SR's type.
- ``pool3``: three corosync-ha hosts, ``pytest.mark.pool3(started=True)``
  when they are to be running already.
"""

import os
import shutil
import tempfile

import pytest

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


@pytest.fixture
def pool(request, tmp_path):
    """The shim's fixture pool (``helpers.shim.Pool``) as the ``pool`` marker says; stopped after the test."""
    with pool_for_test(tmp_path, **_marker(request, "pool")[1]) as built:
        yield built


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
            assert all(r.ok for r in pool.start_all())
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
