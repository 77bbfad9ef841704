"""The options of a pool that several verbs share: where its state, drivers and stacks are, how it runs.

``serve``, ``kit`` and ``xe --embedded`` each run a pool of their own, and
``stack-list``, ``upgrade`` and ``sandbox exec`` read one; they name the
same things: xapi.conf, the cluster-stack root (``--root``, or
``--cluster-stack-root`` for a pool that runs), the SR drivers'
directory, the state directory, root's password file, how many hosts,
the host sandboxes, and how long a driver call, a stack script or the
HA daemon's start may take.  Each is a ``Shared`` here: its flag, what
every verb tells argparse of it, and each verb's own help text and
defaults where its meaning for that verb differs (a new pool's hosts for
``serve``, the kit's pool for ``kit``).  ``add(parser, verb, *shared)``
puts them on a verb's parser; ``xe``, which parses its command line as
xe does, takes its embedded pool's long options from ``XE_EMBEDDED``.
A pool option that only one verb has lives here too when it says how
the pool runs (``--script-timeout``, ``--ha-timeout``), so that the
verbs' own modules keep only what is theirs (ports, reports, logs).
"""

import argparse
import os
import sys
import typing

Wording = typing.Union[str, typing.Tuple[str, typing.Dict[str, typing.Any]]]


class Shared(object):
    """One shared option: its flag, argparse's keywords for every verb, and each verb's own words."""

    __slots__ = ("flag", "common", "wording")

    def __init__(self, flag: str, common: typing.Dict[str, typing.Any],
                 wording: typing.Optional[typing.Dict[str, Wording]] = None) -> None:
        self.flag = flag
        self.common = common
        self.wording = wording or {}  # verb -> help text, or (help text, argparse keywords of its own)

    @property
    def dest(self) -> str:
        """The name argparse (and xe's option table) keeps the value under."""
        return self.flag[2:].replace("-", "_")

    def keywords(self, verb: str) -> typing.Dict[str, typing.Any]:
        """What ``verb`` tells argparse of this option."""
        words = self.wording.get(verb)
        if words is None:
            return dict(self.common)
        help_text, own = (words, {}) if isinstance(words, str) else words
        return dict(self.common, help=help_text, **own)


XAPI_CONF = Shared("--xapi-conf", {
    "metavar": "FILE",
    "help": "xapi.conf to read cluster-stack-root, cluster-stack-default and sm-dir from "
            "(default: /etc/xapi.conf if present)"})
ROOT = Shared("--root", {"metavar": "DIR"}, {
    "kit": "cluster-stack root (default: xapi.conf's cluster-stack-root)",
    "stack-list": "cluster-stack root to list (default: cluster-stack-root of xapi.conf, "
                  "else /usr/libexec/xapi/cluster-stack)",
    "upgrade": "cluster-stack root (default: cluster-stack-root of xapi.conf, else /usr/libexec/xapi/cluster-stack)"})
CLUSTER_STACK_ROOT = Shared("--cluster-stack-root", {"metavar": "DIR"}, {
    "serve": "cluster stacks (default: what the state dir remembers, else cluster-stack-root of xapi.conf)"})
SM_DIR = Shared("--sm-dir", {"metavar": "DIR"}, {
    "serve": "SR drivers (default: what the state dir remembers, else sm-dir of xapi.conf)",
    "kit": "directory of SR drivers (default: xapi.conf's sm-dir)"})
STATE = Shared("--state", {"metavar": "DIR"}, {
    "serve": ("state directory (the pool database)", {"required": True}),
    "sandbox": ("the pool's state directory", {"required": True}),
    "db": ("the pool's state directory (its pool.db)", {"required": True}),
    "upgrade": "state directory of the shim's store: migrate it and set ha_cluster_stack to xhad where it has none"})
PASSWORD_FILE = Shared("--password-file", {"metavar": "F"}, {
    "serve": "root's password (default: DIR/password, created if absent)"})
HOSTS = Shared("--hosts", {"type": int, "metavar": "N"}, {
    "serve": ("hosts of a new pool, the first is master (default 1)", {"default": 1}),
    "kit": ("sandboxed hosts of the pool a stack runs on, 1 to 4 (default 2)", {"default": 2})})
DRIVER_TIMEOUT = Shared("--driver-timeout", {"type": float}, {
    "serve": ("seconds a driver call may take (default 300)", {"default": 300.0, "metavar": "S"}),
    "kit": ("timeout of each driver call on the embedded pool (default 120)",
            {"default": 120.0, "metavar": "SECONDS"})})
SCRIPT_TIMEOUT = Shared("--script-timeout", {"type": float}, {
    "serve": ("safety net: seconds after which a hung cluster-stack script is killed and reported (xapi has none; "
              "default 3600)", {"default": 3600.0, "metavar": "S"})})
START_TIMEOUT = Shared("--start-timeout", {"type": float}, {
    "kit": ("timeout of ha_start_daemon and ha_stop_daemon (default 120)", {"default": 120.0, "metavar": "SECONDS"})})
HA_MONITOR_INTERVAL = Shared("--ha-monitor-interval", {"type": float}, {
    "serve": ("seconds between two liveset queries of each host's HA monitor (default 20, as xapi)",
              {"default": 20.0, "metavar": "S"})})
HA_TIMEOUT = Shared("--ha-timeout", {"type": int}, {
    "kit": ("the HA timeout xhad.conf's parameters derive from, as xapi's configuration timeout "
            "(at least 10; default 20)", {"default": 20, "metavar": "SECONDS"})})
SANDBOX = Shared("--sandbox", {"action": "store_true"}, {
    "serve": "make each host a host sandbox (network + mount namespaces) where its scripts and drivers run, "
             "as on a real host; root only"})
SANDBOX_IPV6 = Shared("--ipv6", {"action": "store_true"}, {
    "serve": "with --sandbox: the hosts' management addresses are IPv6 only (fd00:213::N)"})
SANDBOX_PREFIX = Shared("--sandbox-prefix", {"default": "", "metavar": "P"}, {
    "serve": "prefix of the sandboxes' namespace names (default: from the state dir)"})
EMULATE_STORAGE = Shared("--emulate-storage", {
    "action": "store_true",
    "help": "emulate the storage tools this kernel cannot serve (mount -t ocfs2 without ocfs2, lvcreate/lvremove "
            "without device-mapper, the Melio CLI), on every host, and say so; the real tools everywhere else. "
            "For trying a pool, never for production"}, {
    "serve": "emulate the storage tools this kernel cannot serve (mount -t ocfs2 without ocfs2, lvcreate/lvremove "
             "without device-mapper, the Melio CLI) on every host, and say so (start, log, ha status); the real "
             "tools everywhere else; remembered in DIR. For trying a pool, never for production"})

# ``xe --embedded DIR``'s pool (xe's own help text says what they are)
XE_EMBEDDED = (PASSWORD_FILE, SM_DIR, CLUSTER_STACK_ROOT, HOSTS, XAPI_CONF, SANDBOX_PREFIX, EMULATE_STORAGE)


def add(parser: argparse.ArgumentParser, verb: str, *shared: Shared) -> None:
    """Add the ``shared`` options to ``verb``'s parser, in this order, as ``verb`` words them."""
    for option in shared:
        parser.add_argument(option.flag, **option.keywords(verb))


def load_conf(args: argparse.Namespace) -> typing.Any:
    """The XapiConf named by --xapi-conf; prints the error and exits 2 on a bad file."""
    from sm_clusterstack import cli, config
    try:
        return config.load(args.xapi_conf)
    except config.ConfigError as e:
        sys.stderr.write("sm-clusterstack: %s\n" % e)
        raise SystemExit(cli.EXIT_USAGE)


def stack_root(args: argparse.Namespace) -> str:
    """--root, else xapi.conf's cluster-stack-root."""
    return args.root or load_conf(args).cluster_stack_root


REMEMBERED = "embedded.conf"  # a pool's state dir: the sm-dir, stack root (and storage emulation) it runs with


def pool_dirs(state: str, sm_dir: typing.Optional[str], root: typing.Optional[str], conf: typing.Any,
              emulate_storage: typing.Optional[bool] = None) -> typing.Tuple[str, str, bool]:
    """The pool's (sm-dir, stack root, storage emulation): given, else remembered in STATE, else xapi.conf's.

    ``serve`` and ``xe --embedded`` on one state dir so run the same drivers
    and stacks, whichever made the pool.  ``emulate_storage`` None: as remembered (off by default).
    """
    from sm_clusterstack import atomicfile, config
    path = os.path.join(state, REMEMBERED)
    remembered = config.load(path).values if os.path.exists(path) else {}
    sm_dir = os.path.abspath(sm_dir or remembered.get("sm-dir") or conf.sm_dir)
    root = os.path.abspath(root or remembered.get("cluster-stack-root") or conf.cluster_stack_root)
    emulate = remembered.get("emulate-storage") == "true" if emulate_storage is None else emulate_storage
    atomicfile.write(path, "# the pool's drivers and stacks (sm-clusterstack serve and xe --embedded)\n"
                     "sm-dir = %s\ncluster-stack-root = %s\nemulate-storage = %s\n"
                     % (sm_dir, root, "true" if emulate else "false"), mode=0o600)
    return sm_dir, root, emulate
