"""The settings of the corosync-ha stack: one ``key = value`` file per host.

xapi runs a stack's scripts with nothing but PATH in their environment, so
everything a host may tune lives in ``/etc/sm-clusterstack/corosync-ha.conf``
(read with the xapi.conf syntax of ``sm_clusterstack.config``: ``#``
comments, optional quotes).  A missing file means the defaults.  A bad line,
an unknown key or a bad value is a ConfigError naming the file, the line and
the reason; the scripts turn it into exit 16 (INVALID_ENVIRONMENT) before
starting anything.
"""

import os
import re
import shlex
import shutil
import typing

from sm_clusterstack import CLUSTER_NAME_PATTERN, DEFAULT_CLUSTER_NAME, config
from sm_clusterstack.config import ConfigError
from sm_clusterstack.digits import is_digits

STACK_NAME = "corosync-ha"
DEFAULT_PATH = "/etc/sm-clusterstack/%s.conf" % STACK_NAME
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_SAFE_PATH = re.compile(r"/[A-Za-z0-9/._-]*\Z")
NO_WATCHDOG = "none"


class Settings(object):
    """One host's settings; every attribute has its default.

    ``fence_action`` and ``fence_escalation`` are argv lists; [] means the
    kernel's immediate reboot (``b`` to /proc/sysrq-trigger).
    """

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        self.path = path
        self.fence_action = []  # type: typing.List[str]
        self.fence_escalation = []  # type: typing.List[str]
        self.fence_attempts = 3
        self.cluster_name = DEFAULT_CLUSTER_NAME
        self.runtime_dir = "/run/sm-clusterstack/%s" % STACK_NAME
        self.log_file = "/var/log/sm-clusterstack/%s.log" % STACK_NAME
        self.watchdog_device = "/dev/watchdog"

    def to_dict(self) -> typing.Dict[str, typing.Any]:
        """The settings by key, as the file names them."""
        return {key: getattr(self, attr) for key, (attr, _parse) in KEYS.items()}


def _argv(value: str) -> typing.List[str]:
    try:
        words = shlex.split(value)
    except ValueError as e:
        raise ValueError("cannot split into words: %s" % e)
    if words and shutil.which(words[0], path=os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH) is None:
        raise ValueError("%r is not an executable command" % words[0])
    return words


def _attempts(value: str) -> int:
    if not is_digits(value, max_length=2) or not 1 <= int(value) <= 10:
        raise ValueError("%r is not a whole number from 1 to 10" % value)
    return int(value)


def _cluster_name(value: str) -> str:
    if not re.match(CLUSTER_NAME_PATTERN + r"\Z", value):
        raise ValueError("%r: a cluster name is 1 to 16 of [A-Za-z0-9_-]" % value)
    return value


def _abs_path(value: str) -> str:
    if not _SAFE_PATH.match(value) or value.rstrip("/") == "" or "/../" in value + "/":
        raise ValueError("%r is not an absolute path of [A-Za-z0-9/._-]" % value)
    return os.path.normpath(value)


def _watchdog(value: str) -> str:
    return "" if value == NO_WATCHDOG else _abs_path(value)


KEYS = {
    "fence-action": ("fence_action", _argv),
    "fence-escalation": ("fence_escalation", _argv),
    "fence-attempts": ("fence_attempts", _attempts),
    "cluster-name": ("cluster_name", _cluster_name),
    "runtime-dir": ("runtime_dir", _abs_path),
    "log-file": ("log_file", _abs_path),
    "watchdog-device": ("watchdog_device", _watchdog),
}  # type: typing.Dict[str, typing.Tuple[str, typing.Callable[[str], typing.Any]]]


def parse(text: str, path: str = DEFAULT_PATH) -> Settings:
    """The Settings of a settings file's text (ConfigError naming file:line)."""
    settings = Settings(path)
    seen = {}  # type: typing.Dict[str, int]
    for number, key, value in config.entries(text, path):
        if key not in KEYS:
            raise ConfigError(path, number, "unknown setting %r (known: %s)" % (key, ", ".join(sorted(KEYS))))
        if key in seen:
            raise ConfigError(path, number, "%s is already set on line %d" % (key, seen[key]))
        seen[key] = number
        attr, convert = KEYS[key]
        try:
            setattr(settings, attr, convert(value))
        except ValueError as e:
            raise ConfigError(path, number, "%s: %s" % (key, e))
    return settings


def load(path: str = DEFAULT_PATH) -> Settings:
    """Read the settings file at ``path``; its absence means the defaults."""
    try:
        text = config.read_text(path)
    except FileNotFoundError:
        return Settings(path)
    return parse(text, path)
