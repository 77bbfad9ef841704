"""``sm-clusterstack ha status`` and ``ha preflight``: HA state at a glance, and enable_ha as a dry run.

Both connect as ``sm-clusterstack xe`` does (``-s SERVER``, ``--embedded DIR``
or ``$SM_CLUSTERSTACK_STATE``, else the local xapi; the same ``-u/-pw/-pwf``).

``ha status [--json] [--watch [interval=S] [count=N]]``: one row per host:
the master, live as the master's liveset says (what xapi's monitor copies
to ``host_metrics.live``) and as ``host_metrics.live`` says, how many
hosts' livesets see it live, the status of its own liveset, statefile
access, excluded, its warnings and latencies.  The livesets come from the
shim's ``pool.get_ha_livesets`` (every host's ``ha_query_liveset``); a real
xapi does not offer them, and the liveset columns are then ``?``.

``ha preflight [heartbeat-sr-uuids=U,...] [cluster-stack=S] [ha-config:K=V]
[--json]``: enable_ha's checks on every host through the shim's
``pool.ha_preflight``; nothing changes.  Exit 0 when every check passes,
1 when one fails (each finding has its XenAPI code), as for xe errors.
"""

import json
import sys
import time
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli import ha_status
from sm_clusterstack.cli.xe import connect, errors, select
from sm_clusterstack.cli.xe.errors import ClientError, CliFailure, UsageError
from sm_clusterstack.cli.xe.main import parse_commandline

HELP = "HA at a glance (ha status [--json] [--watch]) and enable_ha as a dry run (ha preflight ...)"
RAW_ARGUMENTS = True
USAGE = """Usage:
  sm-clusterstack ha status [--json] [--watch [interval=SECONDS] [count=N]] [connection options]
  sm-clusterstack ha preflight [heartbeat-sr-uuids=UUID,...] [cluster-stack=NAME] [ha-config:KEY=VALUE]
                               [--json] [connection options]
Connection options are xe's: -s SERVER, -u USER -pw PASSWORD | -pwf FILE, --password-file F,
--embedded DIR (or $SM_CLUSTERSTACK_STATE); without them, the local xapi.
"""


def main(argv: typing.List[str], environ: typing.Optional[typing.Mapping[str, str]] = None) -> int:
    """``sm-clusterstack ha ...``; the exit status."""
    import os
    environ = os.environ if environ is None else environ
    try:
        options, args = connect.parse(argv, environ)
        if options.help or not args or args[0] not in ("status", "preflight"):
            sys.stderr.write(USAGE)
            return cli.EXIT_OK if options.help else cli.EXIT_FAILED
        name, params = parse_commandline(args)
        return (status if name == "status" else preflight)(options, environ, params)
    except UsageError as e:
        sys.stderr.write(errors.usage_error(e.kind, e.text))
    except (ClientError, OSError, ValueError) as e:
        sys.stderr.write("%s\n" % e)
    except CliFailure as e:
        sys.stderr.write(errors.failure_text(str(e)))
    return cli.EXIT_FAILED


def _connected(options, environ, action: typing.Callable[[typing.Any], int]) -> int:
    import XenAPI
    from sm_clusterstack.cli.xe.session import connected
    try:
        with connected(options, environ) as session:
            return action(session.xenapi)
    except XenAPI.Failure as e:
        sys.stderr.write(errors.render_failure(e.details))
        return cli.EXIT_FAILED


def status(options, environ, params: select.Params) -> int:
    as_json = select.bool_param(params, "json")
    watch = select.bool_param(params, "watch")
    interval = float(select.param(params, "interval", "2"))
    count = int(select.param(params, "count", "0"))

    def show(api) -> int:
        shown = 0
        while True:
            state = ha_status.gather(api)
            text = json.dumps(state, indent=2, sort_keys=True) + "\n" if as_json else ha_status.table(state)
            if watch and not as_json:
                text = "\x1b[H\x1b[2J" + time.strftime("%Y-%m-%d %H:%M:%S  ") + "every %gs\n" % interval + text
            sys.stdout.write(text)
            sys.stdout.flush()
            shown += 1
            if not watch or (count and shown >= count):
                return cli.EXIT_OK
            time.sleep(interval)
    return _connected(options, environ, show)


def preflight(options, environ, params: select.Params) -> int:
    configuration = select.map_params(params, "ha-config")
    uuids = select.param(params, "heartbeat-sr-uuids")

    def check(api) -> int:
        srs = [api.SR.get_by_uuid(u) for u in uuids.split(",")] if uuids else []
        pool = api.pool.get_all()[0]
        findings = api.pool.ha_preflight(pool, srs, configuration, select.param(params, "cluster-stack", ""))
        findings = ha_status.resolve(api, findings)
        if select.bool_param(params, "json"):
            sys.stdout.write(json.dumps(findings, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(ha_status.findings_table(findings))
        return cli.EXIT_FAILED if any(f["result"] == "fail" for f in findings) else cli.EXIT_OK
    return _connected(options, environ, check)
