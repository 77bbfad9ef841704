"""The xapi.conf reader: ``key = value`` lines, ``#`` comments, optional quotes.

Unknown keys are kept (xapi.conf holds many settings this project does not
use).  A line that is neither blank, a comment nor ``key = value`` is a
ConfigError naming the file and the line.  A missing file means defaults,
as with xapi.
"""

import re
import typing

DEFAULT_PATH = "/etc/xapi.conf"
DEFAULTS = {
    "cluster-stack-root": "/usr/libexec/xapi/cluster-stack",
    "cluster-stack-default": "xhad",
    "sm-dir": "/opt/xensource/sm",
}
_LINE = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*\Z")


class ConfigError(ValueError):
    """A malformed configuration file; says which file and line."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super(ConfigError, self).__init__("%s:%d: %s" % (path, line, reason))


class XapiConf(object):
    """The settings of one xapi.conf, with this project's defaults."""

    def __init__(
            self,
            values: typing.Optional[typing.Dict[str, str]] = None,
            path: typing.Optional[str] = None,
    ) -> None:
        self.values = dict(values or {})
        self.path = path

    def get(self, key: str, default: typing.Optional[str] = None) -> typing.Optional[str]:
        """The value of ``key``, else this project's default, else ``default``."""
        return self.values.get(key, DEFAULTS.get(key, default))

    @property
    def cluster_stack_root(self) -> str:
        return self.get("cluster-stack-root")

    @property
    def cluster_stack_default(self) -> str:
        return self.get("cluster-stack-default")

    @property
    def sm_dir(self) -> str:
        return self.get("sm-dir")


def entries(text: str, path: str = "<string>") -> typing.List[typing.Tuple[int, str, str]]:
    """The ``(line number, key, value)`` of each setting in a ``key = value`` text."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw, path, number).strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(path, number, "expected 'key = value', got %r" % raw.strip())
        found.append((number, match.group(1), _unquote(match.group(2), path, number)))
    return found


def parse(text: str, path: str = "<string>") -> XapiConf:
    """Parse the text of a xapi.conf."""
    return XapiConf({key: value for _number, key, value in entries(text, path)}, path)


def read_text(path: str) -> str:
    """The UTF-8 text of the file at ``path``; ConfigError when unreadable.

    FileNotFoundError passes through, for callers to whom a missing file
    means defaults.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ConfigError(path, 0, "cannot read: %s" % (e.strerror or e))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, data[:e.start].count(b"\n") + 1, "not UTF-8 text")


def load(path: typing.Optional[str] = None) -> XapiConf:
    """Read ``path`` (default /etc/xapi.conf); a missing default file gives defaults.

    A file named explicitly must exist.
    """
    target = path or DEFAULT_PATH
    try:
        text = read_text(target)
    except FileNotFoundError:
        if path is None:
            return XapiConf(path=target)
        raise ConfigError(target, 0, "file not found")
    return parse(text, target)


def _strip_comment(line: str, path: str, number: int) -> str:
    """``line`` without a ``#`` comment outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    if quote:
        raise ConfigError(path, number, "unterminated %s quote" % quote)
    return line


def _unquote(value: str, path: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0] or value[0] in value[1:-1]:
            raise ConfigError(path, number, "badly quoted value %s" % value)
        return value[1:-1]
    if any(q in value for q in "\"'"):
        raise ConfigError(path, number, "stray quote in value %s" % value)
    return value
