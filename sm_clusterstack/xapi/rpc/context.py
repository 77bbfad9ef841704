"""The shim's running state: the store, where drivers and stacks live, the password.

One ``Pool`` is shared by every request thread; it holds no per-request
state.  ``initialise`` creates the pool and its hosts on first start.
"""

import hmac
import os
import time
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import model
from sm_clusterstack.xapi.rpc import sessions
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db.store import Store
from sm_clusterstack.xapi.db import records

DEFAULT_DRIVER_TIMEOUT = 300.0  # seconds
DEFAULT_SCRIPT_TIMEOUT = 3600.0  # seconds: a safety net (xapi has none), reported if ever hit
MAX_HOSTS = 64
HOST_STILL_BOOTING = errors.HOST_STILL_BOOTING


class Pool(object):
    """What every method needs: the store and the pool's configuration."""

    def __init__(
            self,
            state_dir: str,
            sm_dir: str,
            stack_root: str,
            password: str,
            xapi_url: str = "",
            driver_timeout: float = DEFAULT_DRIVER_TIMEOUT,
            script_timeout: float = DEFAULT_SCRIPT_TIMEOUT,
            default_stack: str = "xhad",
            marked: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.store = Store(state_dir, marked=marked)  # marked: the pool's marker and watch (serve's store)
        self.sessions = sessions.Sessions(self.store)
        self.sm_dir = sm_dir
        self.stack_root = stack_root
        self.password = password
        self.xapi_url = xapi_url
        self.driver_timeout = driver_timeout
        self.script_timeout = script_timeout
        self.default_stack = default_stack
        if not password:
            raise ValueError("the pool's password is empty: refusing to serve a pool anyone could log in to")
        self.ready = True  # False while the service starts: only drivers' internal sessions are served
        self.sandboxes = {}  # type: typing.Dict[str, typing.Any]  # host ref -> HostSandbox, when sandboxed
        self.ha_runtime = None  # type: typing.Any  # ha_monitor.Runtime, set by the service
        self.emulation = None  # type: typing.Any  # emulation.pool.Emulation: the storage tools emulated, or None

    def check_ready(self, session_ref: typing.Any) -> None:
        """HOST_STILL_BOOTING while the service starts, unless ``session_ref`` is a driver's internal session."""
        if self.ready:
            return
        if isinstance(session_ref, str):
            with self.store.read() as conn:
                row = store_mod.row(conn, "session", session_ref)
            if row is not None and row["internal"]:
                return
        raise XenAPIError(HOST_STILL_BOOTING)

    def check_session(self, ref: typing.Any) -> None:
        """Raise SESSION_INVALID [ref] unless ``ref`` is a live session (its use is recorded)."""
        if not self.sessions.is_live(ref):
            raise XenAPIError(errors.SESSION_INVALID, ref if isinstance(ref, str) else type(ref).__name__)

    def check_password(self, user: str, password: str) -> bool:
        """True when ``user``/``password`` may log in (root and the pool's password)."""
        return user == "root" and hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8"))

    def new_session(self, user: str, originator: str = "", internal: bool = False) -> str:
        """Create a session for ``user`` on the master; its ref (``sessions`` evicts the least used)."""
        return self.sessions.create(user, originator, internal)

    def end_session(self, ref: str) -> None:
        """Forget session ``ref``."""
        self.sessions.end(ref)

    def driver_path(self, sr_type: str) -> str:
        """The driver executable of SR type ``sr_type`` (``<sm-dir>/<Type>SR``)."""
        with self.store.read() as conn:
            row = records.sm_row(conn, sr_type)
        if row is None:
            raise XenAPIError(errors.SR_UNKNOWN_DRIVER, sr_type)
        return row["driver_filename"]


def set_fields(ctx, cls: str, ref: str, **fields: typing.Any) -> str:
    """Check ``ref`` is a live ``cls`` and set ``fields`` on it, in one write; "" (a setter's answer)."""
    with ctx.store.write() as conn:
        model.check_ref(conn, cls, ref)
        store_mod.update(conn, model.table_of(cls), ref, **fields)
    return ""


def initialise(store: Store, hosts: int) -> bool:
    """Create the pool with ``hosts`` hosts (the first is master) unless it exists.

    Returns True when it created the pool.
    """
    if not 1 <= hosts <= MAX_HOSTS:
        raise ValueError("a pool has 1 to %d hosts, not %d" % (MAX_HOSTS, hosts))
    with store.write() as conn:
        if records.pool_row(conn) is not None:
            return False
        refs = [store_mod.new_ref() for _ in range(hosts)]
        for number, ref in enumerate(refs, 1):
            store_mod.insert(conn, "host", {
                "ref": ref, "uuid": store_mod.new_uuid(), "name_label": "host%d" % number,
                "hostname": "host%d" % number, "address": "127.0.0.%d" % number})
            store_mod.insert(conn, "host_metrics", {
                "ref": store_mod.new_ref(), "uuid": store_mod.new_uuid(), "host": ref, "live": True,
                "last_updated": time.time()})
        store_mod.insert(conn, "pool", {
            "ref": store_mod.new_ref(), "uuid": store_mod.new_uuid(), "master": refs[0],
            "ha_cluster_stack": "xhad"})
    return True


def read_password(path: str) -> str:
    """The password in ``path`` (first line, without its newline); ValueError if empty."""
    with open(path, "r") as f:
        text = f.read()
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ValueError("%s: the password file is empty (its first line is the password)" % path)
    return password


def ensure_password_file(state_dir: str) -> str:
    """``<state>/password``, created with a random password (mode 0600) if absent."""
    path = os.path.join(state_dir, "password")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
    return path
