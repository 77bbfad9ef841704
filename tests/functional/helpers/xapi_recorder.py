"""A small recording XenAPI server on a unix socket, for the drivers' pool check.

It answers XenAPI over XML-RPC like xapi (``{"Status": "Success", "Value"}``
or ``{"Status": "Failure", "ErrorDescription"}``), from records a test
builds with ``PoolRecords``, checks the session ref of every call, and
records each method name: the test counts round trips from ``calls``.
``get_all_records_where`` understands the ``field "f" = "v"`` expressions
(joined by ``and``) xapi's drivers use.  Test code, not a XenAPI double of
the shim: it serves only the classes the drivers read.
"""

import contextlib
import os
import re
import socketserver
import threading
import uuid
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

SESSION = "OpaqueRef:5e550000-0000-4000-8000-000000000001"
_CLAUSE = re.compile(r'\s*field\s+"([^"]+)"\s*=\s*"([^"]*)"\s*')


def ref():
    """A fresh OpaqueRef."""
    return "OpaqueRef:%s" % uuid.uuid4()


class PoolRecords(object):
    """Records of one pool: pool, hosts, SMs, SRs and PBDs, as XenAPI returns them."""

    def __init__(self, ha_enabled=False, ha_cluster_stack="xhad", sm_has_stack_field=True):
        self.pools = {ref(): {"uuid": str(uuid.uuid4()), "ha_enabled": ha_enabled,
                              "ha_cluster_stack": ha_cluster_stack, "name_label": "pool"}}
        self.hosts, self.srs, self.pbds, self.sms = {}, {}, {}, {}
        self.sm_has_stack_field = sm_has_stack_field
        for sr_type, stacks in (("ocfs2", ["corosync-ha"]), ("melio", ["melio"]), ("lvm", []),
                                ("nfs", [])):
            self.add_sm(sr_type, stacks)

    def add_sm(self, sr_type, stacks):
        """An SM record for ``sr_type`` requiring ``stacks``."""
        record = {"uuid": str(uuid.uuid4()), "type": sr_type, "name_label": sr_type}
        if self.sm_has_stack_field:
            record["required_cluster_stack"] = list(stacks)
        self.sms[ref()] = record

    def add_hosts(self, count):
        """``count`` host records; their refs."""
        refs = [ref() for _ in range(count)]
        for r in refs:
            self.hosts[r] = {"uuid": str(uuid.uuid4()), "name_label": r}
        return refs

    def add_sr(self, sr_type, attached_on=(), detached_on=()):
        """An SR of ``sr_type`` with a PBD per host, attached or not; its ref."""
        sr = ref()
        self.srs[sr] = {"uuid": str(uuid.uuid4()), "type": sr_type, "name_label": sr_type,
                        "physical_size": "0", "physical_utilisation": "0", "PBDs": []}
        for host, attached in [(h, True) for h in attached_on] + [(h, False) for h in detached_on]:
            pbd = ref()
            self.pbds[pbd] = {"uuid": str(uuid.uuid4()), "host": host, "SR": sr,
                              "currently_attached": attached, "device_config": {}}
            self.srs[sr]["PBDs"].append(pbd)
        return sr


def _matches(record, expression):
    for clause in re.split(r"\band\b", expression):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise ValueError("unsupported expression %r" % expression)
        field, value = match.groups()
        have = record.get(field)
        if (str(have).lower() if isinstance(have, bool) else str(have)) != value:
            return False
    return True


class Recorder(object):
    """The methods served, over ``PoolRecords``; ``calls`` lists the method names received."""

    def __init__(self, records, session=SESSION):
        self.records = records
        self.session = session
        self.calls = []
        self.lock = threading.Lock()

    def _table(self, cls):
        return {"pool": self.records.pools, "host": self.records.hosts, "SR": self.records.srs,
                "PBD": self.records.pbds, "SM": self.records.sms}.get(cls)

    def dispatch(self, method, params):
        """The XenAPI answer struct of one call."""
        with self.lock:
            self.calls.append(method)
        if not params or params[0] != self.session:
            return {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", str(params[:1])]}
        cls, _, verb = method.partition(".")
        table = self._table(cls)
        if table is None:
            return {"Status": "Failure", "ErrorDescription": ["MESSAGE_METHOD_UNKNOWN", method]}
        if verb == "get_all_records":
            return {"Status": "Success", "Value": table}
        if verb == "get_all_records_where":
            return {"Status": "Success",
                    "Value": {r: rec for r, rec in table.items() if _matches(rec, params[1])}}
        if verb.startswith("set_") and params[1] in table:
            table[params[1]][verb[4:]] = params[2]
            return {"Status": "Success", "Value": ""}
        return {"Status": "Failure", "ErrorDescription": ["MESSAGE_METHOD_UNKNOWN", method]}


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ()  # any path: XenAPI posts to /
    disable_nagle_algorithm = False  # a unix socket has no TCP options

    def address_string(self):
        return "unix"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    daemon_threads = True

    def __init__(self, path, recorder):
        socketserver.UnixStreamServer.__init__(self, path, _Handler)
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, encoding=None)
        self.logRequests = False
        self.register_instance(_Instance(recorder))


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer, SimpleXMLRPCDispatcher):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, recorder):
        socketserver.TCPServer.__init__(self, ("127.0.0.1", 0), _Handler)
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, encoding=None)
        self.logRequests = False
        self.register_instance(_Instance(recorder))


class _Instance(object):
    def __init__(self, recorder):
        self.recorder = recorder

    def _dispatch(self, method, params):
        return self.recorder.dispatch(method, params)


class RecordingXapi(object):
    """Serve ``records`` on the unix socket ``path`` (or, path None, on loopback HTTP) in a thread.

    ``path`` is then what SM_CLUSTERSTACK_XAPI should say: the socket path or the URL.
    """

    def __init__(self, path, records):
        self.recorder = Recorder(records)
        if path is None:
            self.server = _TCPServer(self.recorder)
            self.path = "http://127.0.0.1:%d/" % self.server.server_address[1]
        else:
            self.server = _Server(path, self.recorder)
            self.path = path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def calls(self):
        """Method names received so far."""
        return list(self.recorder.calls)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()
        if not self.path.startswith("http") and os.path.exists(self.path):
            os.unlink(self.path)


@contextlib.contextmanager
def one_host_pool(tmp_path, sr_type):
    """A recording pool of one host and one detached SR of ``sr_type`` (``xapi.sr_ref``)."""
    records = PoolRecords()
    host = records.add_hosts(1)
    sr_ref = records.add_sr(sr_type, detached_on=host)
    with RecordingXapi(str(tmp_path / "xapi.sock"), records) as xapi:
        xapi.sr_ref = sr_ref
        yield xapi
