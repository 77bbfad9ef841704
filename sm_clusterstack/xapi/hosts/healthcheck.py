"""xapi's health check as xhad runs it (``/opt/xensource/libexec/xapi-health-check``): exit 0 when healthy.

xhad (``daemon/xapi_mon.c``) runs it every XapiHealthCheckInterval; a
failure or a hang past XapiHealthCheckTimeout makes xhad restart xapi and,
when that does not help, fence the host.  It asks the pool, through the
host's local socket, ``host.ha_xapi_healthcheck`` (uid 0 on the socket
logs in without a password, as on a real host).
"""

import sys


def main(socket_path: str) -> int:
    """Ask the local shim whether it is healthy; 0 yes, 1 no (the reason on stderr)."""
    try:
        import XenAPI
        session = XenAPI.Session("http://" + socket_path.replace("/", "_") + "/", transport=XenAPI.UDSTransport())
        session.xenapi.login_with_password("root", "", "2.0", "xapi-health-check")
        try:
            healthy = session.xenapi.host.ha_xapi_healthcheck()
        finally:
            session.xenapi.session.logout()
    except Exception as e:  # any failure to get an answer is "unhealthy", as xhad reads it
        sys.stderr.write("xapi-health-check: %s\n" % e)
        return 1
    return 0 if healthy is True else 1
