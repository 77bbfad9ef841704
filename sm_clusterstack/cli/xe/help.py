"""``sm-clusterstack xe help``: usage, the command list, and each command's parameters.

As ``cli_frontend.ml`` ``rio_help``: ``help CMD...`` prints a record per
command (name, required and optional parameters, description), ``help``
the usage and the common commands, ``help --all`` every command;
``--minimal`` prints only the names.
"""

import typing

from sm_clusterstack.cli.xe.select import Params, Printer

USAGE = """Usage:
  sm-clusterstack xe <command>
    [ -s <server> ]            XenServer host, URL (http://host:port) or unix socket path
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --password-file <file> ] the shim's password file (the password on its first line)
    [ --nossl ]                Disable SSL/TLS
    [ --minimal ]              Output only values in a comma-separated lists
    [ --embedded <dir> ]       The embedded pool in <dir> (or $SM_CLUSTERSTACK_STATE);
                               with --sm-dir, --cluster-stack-root, --hosts N, --xapi-conf F,
                               --sandbox-prefix P (its hosts' namespaces, as root),
                               --emulate-storage (what the kernel lacks of the storage tools)
    [ <other arguments> ... ]  Command-specific options
Without -s, --embedded or $SM_CLUSTERSTACK_STATE: the local xapi (/var/lib/xcp/xapi).

To get help on a specific command:
  sm-clusterstack xe help <command>

"""
STANDARD = ("sr-list", "sr-create", "pbd-list", "pbd-plug", "pool-ha-enable", "pool-ha-disable", "task-list")
OWN_PARAMS = ("server", "username", "password", "port", "minimal", "all")


def usage() -> str:
    return USAGE


def make_list(names: typing.List[str]) -> typing.List[str]:
    """``make_list``: names comma-joined in lines of at most 74 columns, indented by 4."""
    lines, current = [], "    " + names[0]
    for name in names[1:]:
        if len(current) + len(name) > 74:
            lines.append(current)
            current = "    " + name
        else:
            current += ", " + name
    return lines + [current]


def show(commands: typing.Dict[str, typing.Any], params: Params, printer: Printer) -> None:
    """Print the help ``params`` ask for."""
    wanted = [k for k, _ in params if k not in OWN_PARAMS]
    if wanted:
        for name in wanted:
            command = commands.get(name)
            if command is None:
                printer.lines(["Unknown command '%s'" % name])
                continue
            printer.table([[("command name        ", name), ("reqd params     ", ", ".join(command.reqd)),
                            ("optional params ", ", ".join(command.optn)), ("description     ", command.help)]])
    else:
        every = ("all", "true") in params
        names = sorted(commands) if every else [n for n in sorted(commands) if n in STANDARD]
        if printer.minimal:
            printer.lines(names)
        else:
            title = "Full command list\n-----------------\n" if every else (
                "To get a full listing of commands:\n  sm-clusterstack xe help --all\n\n"
                "Common command list\n-------------------\n")
            printer.lines([USAGE + title] + make_list(names))
    printer.flush()
