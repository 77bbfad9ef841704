"""The corosync-ha settings file: defaults, each key, and file:line errors for bad values."""

import pytest

from sm_clusterstack.config import ConfigError
from sm_clusterstack.corostack import settings


def test_a_missing_file_gives_the_defaults(tmp_path):
    got = settings.load(str(tmp_path / "absent.conf"))
    assert got.fence_action == [] and got.fence_escalation == []  # [] = the kernel's immediate reboot
    assert (got.fence_attempts, got.cluster_name) == (3, "xapi")
    assert got.runtime_dir == "/run/sm-clusterstack/corosync-ha"
    assert got.log_file == "/var/log/sm-clusterstack/corosync-ha.log"
    assert got.watchdog_device == "/dev/watchdog"


def test_the_default_path_is_per_stack_under_etc_sm_clusterstack():
    assert settings.DEFAULT_PATH == "/etc/sm-clusterstack/corosync-ha.conf"


def test_fence_action_is_split_as_a_shell_would_without_running_one():
    # the xapi.conf syntax quotes a whole value; inside it, shell quoting applies
    got = settings.parse("fence-action = \"/bin/echo 'two words' x\\ y $HOME; # no comment\"\n")
    assert got.fence_action == ["/bin/echo", "two words", "x y", "$HOME;", "#", "no", "comment"]


def test_every_key_is_read(tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("# a host's settings\n"
                    "fence-action = /bin/true\n"
                    "fence-escalation = '/bin/false \"now\"'  # comment\n"
                    "fence-attempts = 5\n"
                    "cluster-name = pool_1\n"
                    "runtime-dir = /tmp/x/./run/\n"
                    "log-file = /tmp/ha.log\n"
                    "watchdog-device = none\n")
    got = settings.load(str(path))
    assert got.to_dict() == {
        "fence-action": ["/bin/true"], "fence-escalation": ["/bin/false", "now"], "fence-attempts": 5,
        "cluster-name": "pool_1", "runtime-dir": "/tmp/x/run", "log-file": "/tmp/ha.log",
        "watchdog-device": ""}


@pytest.mark.parametrize("line,reason", [
    ("fence-action = \"/bin/echo 'open\"", "cannot split into words"),
    ("fence-action = /no/such/fencer", "is not an executable command"),
    ("fence-attempts = 0", "from 1 to 10"),
    ("fence-attempts = ²", "from 1 to 10"),
    ("cluster-name = a-name-longer-than-16", "1 to 16"),
    ("runtime-dir = relative/dir", "absolute path"),
    ("runtime-dir = /", "absolute path"),
    ("runtime-dir = /run/../etc", "absolute path"),
    ("log-file = /var/log/a b", "absolute path"),
    ("watchdog-device = dev/watchdog", "absolute path"),
    ("fence-command = /bin/true", "unknown setting 'fence-command'"),
    ("not a setting", "expected 'key = value'"),
])
def test_a_bad_value_names_the_file_line_and_reason(line, reason):
    with pytest.raises(ConfigError) as raised:
        settings.parse("# first\n\n" + line + "\n", "/etc/sm-clusterstack/corosync-ha.conf")
    assert (raised.value.path, raised.value.line) == ("/etc/sm-clusterstack/corosync-ha.conf", 3)
    assert reason in raised.value.reason
    assert str(raised.value).startswith("/etc/sm-clusterstack/corosync-ha.conf:3: ")


def test_a_key_set_twice_is_refused():
    with pytest.raises(ConfigError) as raised:
        settings.parse("cluster-name = a\ncluster-name = b\n", "f")
    assert raised.value.line == 2 and "line 1" in raised.value.reason


def test_an_unreadable_file_is_an_error_not_the_defaults(tmp_path):
    (tmp_path / "dir.conf").mkdir()
    with pytest.raises(ConfigError):
        settings.load(str(tmp_path / "dir.conf"))


def test_non_utf8_text_names_its_line(tmp_path):
    path = tmp_path / "c.conf"
    path.write_bytes(b"cluster-name = a\ncluster-name = \xff\n")
    with pytest.raises(ConfigError) as raised:
        settings.load(str(path))
    assert raised.value.line == 2
