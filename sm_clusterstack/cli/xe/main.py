"""``sm-clusterstack xe``: an xe that behaves like xe, on a shim, a real xapi or an embedded pool.

``sm-clusterstack xe COMMAND [options] key=value ...`` parses as xe does
(``ocaml/xapi-cli-server/cli_frontend.ml`` ``parse_commandline``:
``--flag`` is ``flag=true``, ``-u/-pw/-s/-h/-p`` take a value, the rest is
split on the first ``=``), checks the command's required parameters before
connecting, and prints and exits as xe: 0 on success, 1 on any error,
usage errors included (``xapi_cli.ml`` ``exception_handler``).  Where it
connects is ``connect``'s: ``-s`` / ``--server``, ``--embedded DIR`` or
``$SM_CLUSTERSTACK_STATE`` (named on stderr), else the local xapi.  After
an error that concerns cluster stacks, ``Why:`` and ``Next:`` lines say
what is in the way and what to do (``sm_clusterstack.explain``); the
error's code and params are printed exactly as xapi gave them.
"""

import os
import sys
import typing

from sm_clusterstack import cli
from sm_clusterstack.cli.xe import commands, connect, errors, help, records, select
from sm_clusterstack.cli.xe.errors import ClientError, CliFailure, MissingParam, MultipleFailure, UsageError

HELP = "an xe that behaves like xe (-s SERVER, --embedded DIR or $SM_CLUSTERSTACK_STATE, else the local xapi)"
RAW_ARGUMENTS = True  # cli.main hands this verb its argv unparsed


class Run(object):
    """What a command works with: the API, a printer, ref lookups, the output streams."""

    def __init__(self, api, minimal, progress, out=sys.stdout, err=sys.stderr):
        self.api = api
        self.write_out = out.write
        self.write_err = lambda text: (err.write(text), err.flush())
        self.printer = select.Printer(out.write, minimal)
        self.lookup = records.Lookup(api)
        self.progress = progress
        self.request = {}  # what an explanation may read of the command (enable_ha's SRs, stack)


def main(argv: typing.List[str], environ: typing.Optional[typing.Mapping[str, str]] = None) -> int:
    """Run one xe command line; the exit status."""
    environ = os.environ if environ is None else environ
    try:
        return _main(argv, environ)
    except UsageError as e:
        sys.stderr.write(errors.usage_error(e.kind, e.text))
    except ClientError as e:
        sys.stderr.write("%s\n" % e)
    except CliFailure as e:
        sys.stderr.write(errors.failure_text(str(e)))
    return cli.EXIT_FAILED


def _main(argv, environ) -> int:
    options, args = connect.parse(argv, environ)
    if options.help or not args:
        sys.stderr.write(help.usage())
        return cli.EXIT_OK
    name, params = parse_commandline(args)
    table = commands.table()
    minimal = select.bool_param(params, "minimal")
    if name == "help":
        help.show(table, params, select.Printer(sys.stdout.write, minimal))
        return cli.EXIT_OK
    if name not in table:
        raise UsageError("Unknown command", name)
    command = table[name]
    for required in command.reqd:
        if select.param(params, required) is None:
            raise UsageError("Required parameter not found", required)
    return run_command(command, params, options, environ, minimal)


def parse_commandline(args: typing.List[str]) -> typing.Tuple[str, select.Params]:
    """``parse_commandline`` / ``parse_params_2``: the command name and its (key, value) list."""
    name = args[0]
    if "=" in name:
        raise UsageError("Syntax error", "command name is missing")
    params, rest = [], list(args[1:])
    switches = {"-u": "username", "-pw": "password", "-s": "server", "-h": "server", "-p": "port"}
    while rest:
        arg = rest.pop(0)
        if arg.startswith("--"):
            params.append((arg[2:], "true"))
        elif arg.startswith("-"):
            if arg not in switches or not rest:
                raise UsageError("Syntax error", "")  # parse_commandline turns every parse failure into ""
            params.append((switches[arg], rest.pop(0)))
        else:
            key, _, value = arg.partition("=")
            params.append((key, value))
    return name, params


def run_command(command, params, options, environ, minimal) -> int:
    """Connect, run ``command``, print its output or its error as xe does."""
    import XenAPI
    from sm_clusterstack.cli.xe import session
    progress = command.async_method is not None and not select.bool_param(params, "no-progress")
    try:
        with session.connected(options, environ) as logged_in:
            ctx = Run(logged_in.xenapi, minimal, progress)
            try:
                command.run(ctx, params)
                ctx.printer.flush()
            except XenAPI.Failure as e:
                sys.stderr.write(failure_text(e.details, ctx, options))
                return cli.EXIT_FAILED
    except XenAPI.Failure as e:  # at login
        sys.stderr.write(failure_text(e.details, None, options))
        return cli.EXIT_FAILED
    except CliFailure as e:
        sys.stderr.write(errors.failure_text(str(e)))
        return cli.EXIT_FAILED
    except MissingParam as e:
        sys.stderr.write(errors.missing_parameter(str(e)))
        return cli.EXIT_FAILED
    except MultipleFailure as e:  # xapi_cli.ml multiple_error: a line per failure, printed (stdout)
        sys.stdout.write("%s\n" % e)
        return cli.EXIT_FAILED
    except (OSError, ValueError) as e:
        sys.stderr.write("sm-clusterstack xe: %s\n" % e)
        return cli.EXIT_FAILED
    return cli.EXIT_OK


def failure_text(details, ctx, options) -> str:
    """A XenAPI failure as xe prints it, then the project's explanation where it has one."""
    details = [str(d) for d in details] or ["INTERNAL_ERROR"]
    if details[0] == "SESSION_AUTHENTICATION_FAILED":
        return errors.render_authentication(options.get("username", ""))
    if ctx is None:
        return errors.render_failure(details)
    text = errors.render_failure(details, ctx.lookup.convert)
    from sm_clusterstack.cli.xe import explain
    return text + explain.lines(ctx.api, ctx.lookup, details, ctx.request)
