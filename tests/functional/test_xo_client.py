"""Xen Orchestra's own XenAPI client (npm ``xen-api``, pinned in tests/xo/package-lock.json) on the shim.

What XO does on connect (``xen-api`` ``index.mjs``): its default transport
(``transports/auto.mjs``: JSON-RPC at ``/jsonrpc``, XML-RPC at ``/xmlrpc``
only if that fails), ``session.login_with_password``,
``pool.get_all_records``, ``system.listMethods`` for the classes,
``event.inject`` for a first token, every class's ``get_all_records``, then
``event.from`` in a loop, its cache updated from each event.  The client
runs in node (``tests/xo/watch.mjs``) and prints what it sees; ``make test``
installs it (``npm ci``).
"""

import json
import os
import select
import shutil
import subprocess
import time

import pytest

XO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "xo")
MISSING = (None if shutil.which("node") and os.path.isdir(os.path.join(XO, "node_modules", "xen-api"))
           else "XO's xen-api is not installed: make test runs npm ci in tests/xo (Debian's nodejs and npm)")
pytestmark = [pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
              pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes (enable_ha needs them) need root")]


class Watcher(object):
    """``node tests/xo/watch.mjs``: XO's client connected to the pool, its lines read as they come."""

    def __init__(self, pool):
        self.proc = subprocess.Popen(["node", os.path.join(XO, "watch.mjs"), pool.server.url, pool.server.password],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen = []
        self.buffer = b""

    def wait_for(self, predicate, timeout=30):
        """The first line (as JSON) ``predicate`` accepts; the test fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.seen:
                if predicate(line):
                    self.seen.remove(line)
                    return line
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                data = os.read(self.proc.stdout.fileno(), 65536)
                assert data, "the XO client ended: %s" % self.proc.stderr.read().decode("utf-8", "replace")[-2000:]
                lines = (self.buffer + data).split(b"\n")
                self.buffer = lines.pop()
                self.seen.extend(json.loads(line.decode("utf-8")) for line in lines)
        raise AssertionError("XO's client did not see it within %ds; it saw %s" % (timeout, self.seen[-20:]))

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def watcher(pool):
    found = Watcher(pool)
    yield found
    found.close()


def log_text(pool):
    with open(os.path.join(pool.server.state, "..", os.path.basename(pool.server.state) + ".log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def test_xo_connects_over_json_rpc_fills_its_cache_and_sees_ha_enable_and_a_host_going_not_live(pool, watcher):
    sr = pool.create_sr("melio", "heartbeat")
    ready = watcher.wait_for(lambda line: line.get("ready"))
    assert ready["types"]["SR"] == 1 and ready["types"]["host"] == 2 and ready["types"]["pool"] == 1
    pool.x.pool.enable_ha([sr], {})
    watcher.wait_for(lambda line: line.get("type") == "pool" and line["fields"].get("ha_enabled") is True)
    master = pool.master()
    slave = [h for h in pool.x.host.get_all() if h != master][0]
    metrics = pool.x.host.get_metrics(slave)
    pool.x.host.disable(slave)  # xapi_host.ml: a host is disabled before its shutdown
    pool.x.host.shutdown(slave)
    watcher.wait_for(lambda line: line.get("type") == "host_metrics" and line["ref"] == metrics
                     and line["fields"].get("live") is False)
    assert not [line for line in watcher.seen if "eventFetchingError" in line or "unhandledRejection" in line]
    text = log_text(pool)
    assert "call event.from (JSON-RPC) user=root" in text  # its default transport chose JSON-RPC
    assert "call event.inject (JSON-RPC) user=root" in text and "call event.from user=" not in text
