"""session.*: login with the pool's password, logout (``sessions`` keeps them)."""

import time

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.rpc import sessions
from sm_clusterstack.xapi.rpc.registry import method
from sm_clusterstack.xapi.db import records


@method("session.login_with_password", "uname:str", "pwd:str", "version:str", "originator:str",
        optional=2, session=False)
def login_with_password(ctx, uname, pwd, version="", originator="") -> str:
    """A new session ref for root with the pool's password (any password for local root, as xapi).

    A failure answers only after ``sessions.FAILED_LOGIN_DELAY``, as xapi's,
    which slows down guessing the password.
    """
    if not (ctx.check_password(uname, pwd) or (uname == "root" and api.caller_is_local_root())):
        time.sleep(sessions.FAILED_LOGIN_DELAY)
        raise XenAPIError(errors.SESSION_AUTHENTICATION_FAILED, uname, "Authentication failure")
    return ctx.new_session(uname, originator)


@method("session.logout")
def logout(ctx, session) -> str:
    """End the calling session."""
    ctx.end_session(session)
    return ""


@method("session.get_this_host", "self:ref:session")
def get_this_host(ctx, session, self) -> str:
    """The host a session is logged in to."""
    if self != session:
        raise XenAPIError(errors.HANDLE_INVALID, "session", self)
    kept = ctx.sessions.in_memory(self)
    if kept is not None:
        return kept["this_host"]
    with ctx.store.read() as conn:
        return records.session_host(conn, self)
