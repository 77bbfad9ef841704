"""Where ``sm-clusterstack xe`` connects, and as whom: xe's options, ``~/.xe``, the embedded pool.

xe's client (``ocaml/xe-cli/newcli.ml`` ``parse_args``, ``read_pwf``,
``with_open_channels``; ``options.ml`` ``read_rc``): ``-s SERVER``,
``-p PORT``, ``-u USER``, ``-pw PASSWORD``, ``-pwf FILE`` (user on line 1,
password on line 2), ``--nossl``, and the same as ``server=``/``port=``/
``username=``/``password=``/``passwordfile=`` anywhere on the command line;
``~/.xe`` holds ``key=value`` defaults (other keys become parameters of
every command); the command line wins over ``$XE_EXTRA_ARGS``, which wins
over ``~/.xe``.  Without a server, xe talks to the local xapi
(``/var/lib/xcp/xapi``, else 127.0.0.1:80).

Our additions: ``--server URL|SOCKET`` (as ``-s``) with ``--password-file
F`` (the shim's format: the password on line 1), and the embedded pool:
``--embedded DIR`` or ``$SM_CLUSTERSTACK_STATE`` (a state directory; a
pool is created there on first use, and the client says so), with
``--sm-dir``, ``--cluster-stack-root``, ``--hosts``, ``--xapi-conf`` and
``--sandbox-prefix`` for it.  There is no implicit pool: without a server, ``--embedded`` or
``$SM_CLUSTERSTACK_STATE``, only the local xapi is tried.
"""

import os
import typing

from sm_clusterstack.cli.options import XE_EMBEDDED
from sm_clusterstack.cli.xe.errors import ClientError, UsageError

LOCAL_XAPI = "/var/lib/xcp/xapi"
CLIENT_KEYS = ("server", "port", "username", "password", "passwordfile", "nossl", "debug", "debugonfail",
               "traceparent")
XE_SWITCHES = {"-s": "server", "-h": "server", "-p": "port", "-u": "username", "-pw": "password",
               "-pwf": "passwordfile", "--traceparent": "traceparent"}
XE_FLAGS = {"--nossl": "nossl", "--debug": "debug", "--debug-on-fail": "debugonfail"}
OUR_OPTIONS = dict([("--server", "server"), ("--embedded", "embedded")]
                   + [(option.flag, option.dest) for option in XE_EMBEDDED if "action" not in option.common])
OUR_FLAGS = dict((option.flag, option.dest) for option in XE_EMBEDDED if "action" in option.common)  # store_true


class Options(object):
    """The client's settings once every source is read."""

    def __init__(self) -> None:
        self.values = {"username": "root", "password": "null"}
        self.help = False

    def get(self, key: str, default: typing.Any = None) -> typing.Any:
        return self.values.get(key, default)

    def set(self, key: str, value: str) -> bool:
        """newcli ``set_keyword``: True when ``key`` is the client's (then it is not a parameter)."""
        if key not in CLIENT_KEYS:
            return False
        if key == "port" and not (value.isdigit() and 0 <= int(value) <= 65535):
            raise ClientError("Port number must be an integer (0-65535)")
        self.values[key] = value
        return True


def parse(argv: typing.List[str], environ: typing.Mapping[str, str]) -> typing.Tuple[Options, typing.List[str]]:
    """(options, the arguments left for the command) from ~/.xe, $XE_EXTRA_ARGS and ``argv``."""
    options = Options()
    rest_rc = [k + "=" + v for k, v in read_rc(environ) if not options.set(k, v)]
    rest_extra = _consume(options, split_extra(environ.get("XE_EXTRA_ARGS", "")))
    if any(a in ("-help", "--help") for a in argv):
        options.help = True
    rest = _consume(options, [a for a in argv if a not in ("-help", "--help")])
    if options.get("passwordfile"):
        options.values["username"], options.values["password"] = read_pwf(options.get("passwordfile"))
    return options, rest + rest_extra + rest_rc


def _consume(options: Options, args: typing.List[str]) -> typing.List[str]:
    """newcli ``process_args``: take the client's switches and key=value items, return the others."""
    rest = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg in XE_SWITCHES and i + 1 < len(args):
            options.set(XE_SWITCHES[arg], args[i + 1])
            i += 2
            continue
        if arg in XE_FLAGS:
            options.set(XE_FLAGS[arg], "true")
        elif arg in OUR_FLAGS:
            options.values[OUR_FLAGS[arg]] = "true"
        elif name in OUR_OPTIONS:
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError("Syntax error", "%s needs a value" % arg)
                i += 1
                value = args[i]
            options.values[OUR_OPTIONS[name]] = value
        elif not (eq and options.set(name, value)):
            rest.append(arg)
        i += 1
    return rest


def read_rc(environ: typing.Mapping[str, str]) -> typing.List[typing.Tuple[str, str]]:
    """options.ml ``read_rc``: ``key=value`` lines of ``$HOME/.xe`` (blank lines skipped)."""
    try:
        with open(os.path.join(environ.get("HOME", ""), ".xe")) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    pairs = []
    for line in lines:
        if line == "":
            continue
        if "=" not in line:
            import sys
            sys.stderr.write("Error parsing rc file. No defaults loaded\n")
            return []
        key, _, value = line.partition("=")
        pairs.append((key, value))
    return pairs


def split_extra(text: str) -> typing.List[str]:
    """$XE_EXTRA_ARGS: arguments separated by commas, ``\\,`` for a comma inside one."""
    args, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i + 1]
            i += 2
            continue
        if text[i] == ",":
            if current:
                args.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    return args + ([current] if current else [])


def read_pwf(path: str) -> typing.Tuple[str, str]:
    """newcli ``read_pwf``: the user on the first line, the password on the second."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError):
        raise ClientError("Error opening password file '%s'" % path)
    if len(lines) < 2 or (len(lines) == 2 and lines[1] == ""):
        raise ClientError("Error: password file format: expecting username on the first line, "
                          "password on the second line")
    return lines[0], lines[1]


class Target(object):
    """Where to connect: a unix socket, a URL, or an embedded state directory; ``why`` for stderr."""

    def __init__(self, kind: str, where: str, why: str = "") -> None:
        self.kind = kind  # "socket", "url", "embedded", "local"
        self.where = where
        self.why = why


def target(options: Options, environ: typing.Mapping[str, str]) -> Target:
    """Where the options point: explicit server or --embedded, else $SM_CLUSTERSTACK_STATE, else local xapi."""
    server, embedded = options.get("server"), options.get("embedded")
    if server and embedded:
        raise UsageError("Syntax error", "give a server (-s) or --embedded, not both")
    if embedded:
        return Target("embedded", os.path.abspath(embedded), "--embedded")
    if not server and environ.get("SM_CLUSTERSTACK_STATE"):
        return Target("embedded", os.path.abspath(environ["SM_CLUSTERSTACK_STATE"]), "SM_CLUSTERSTACK_STATE")
    if not server or server in ("127.0.0.1", "localhost"):
        return Target("local", server or "127.0.0.1")
    if server.startswith(("http://", "https://")):
        return Target("url", server)
    if "/" in server:
        return Target("socket", server)
    ssl = options.get("nossl") != "true"
    port = options.get("port") or ("443" if ssl else "80")
    host = "[%s]" % server if ":" in server else server
    return Target("url", "%s://%s:%s/" % ("https" if ssl else "http", host, port))
