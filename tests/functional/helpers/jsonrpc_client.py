"""A plain JSON-RPC client of the XenAPI (what XenCenter and XO speak), on one kept-alive connection."""

import http.client
import itertools
import json


class Failure(Exception):
    """A XenAPI failure over JSON-RPC: ``details`` is [CODE, params...] as the PyPI client's."""

    def __init__(self, details):
        super(Failure, self).__init__(details)
        self.details = details


class JsonRpc(object):
    """Calls ``method(params)`` at ``<url>/jsonrpc`` in JSON-RPC ``version`` ("2.0" or "1.0")."""

    def __init__(self, url, version="2.0", path="/jsonrpc", timeout=120):
        host, port = url[len("http://"):].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
        self.version = version
        self.path = path
        self.ids = itertools.count()
        self.session = None

    def call(self, method, *params):
        """The result of ``method``; Failure with the error's [CODE, params...]."""
        body = {"method": method, "params": list(params), "id": next(self.ids)}
        if self.version == "2.0":
            body["jsonrpc"] = "2.0"
        self.conn.request("POST", self.path, json.dumps(body), {"Content-Type": "application/json"})
        answer = self.conn.getresponse()
        data = answer.read()
        assert answer.status == 200 and answer.getheader("Content-Type") == "application/json", (answer.status, data)
        reply = json.loads(data.decode("utf-8"))
        assert reply["id"] == body["id"]
        if reply.get("error") is not None:
            error = reply["error"]
            raise Failure([error["message"]] + error["data"] if isinstance(error, dict) else error)
        return reply["result"]

    def login(self, password, user="root"):
        self.session = self.call("session.login_with_password", user, password, "2.0", "tests")
        return self

    def xenapi(self, method, *params):
        """``method`` with the session first."""
        return self.call(method, self.session, *params)

    def close(self):
        self.conn.close()
