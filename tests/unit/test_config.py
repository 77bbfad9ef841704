"""xapi.conf: key = value lines, comments, quotes, defaults, malformed lines."""

import pytest

from sm_clusterstack import config


def test_defaults_when_keys_absent():
    conf = config.parse("")
    assert conf.cluster_stack_root == "/usr/libexec/xapi/cluster-stack"
    assert conf.cluster_stack_default == "xhad"
    assert conf.sm_dir == "/opt/xensource/sm"


def test_values_comments_and_quotes():
    conf = config.parse(
        "# xapi.conf\n"
        "cluster-stack-root = /srv/stacks   # moved\n"
        "cluster-stack-default=\"corosync\"\n"
        "sm-dir = '/opt/sm # not a comment'\n"
        "\n"
        "   # indented comment\n")
    assert conf.cluster_stack_root == "/srv/stacks"
    assert conf.cluster_stack_default == "corosync"
    assert conf.sm_dir == "/opt/sm # not a comment"


def test_unknown_keys_are_kept():
    conf = config.parse("use-xenopsd = true\nrelax-xsm-sr-check=false\n")
    assert conf.get("use-xenopsd") == "true"
    assert conf.values == {"use-xenopsd": "true", "relax-xsm-sr-check": "false"}


def test_empty_value_is_allowed():
    assert config.parse("sm-dir =\n").sm_dir == ""


@pytest.mark.parametrize("text, line", [
    ("ok = 1\nthis is not a setting\n", 2),
    ("= value\n", 1),
    ("a = \"unterminated\n", 1),
    ("a = 'mixed\"\n", 1),
    ("a = b\"c\n", 1),
    ("\n\n\nkey value\n", 4),
])
def test_malformed_line_names_file_and_line(text, line):
    with pytest.raises(config.ConfigError) as info:
        config.parse(text, "/etc/xapi.conf")
    assert (info.value.path, info.value.line) == ("/etc/xapi.conf", line)
    assert str(info.value).startswith("/etc/xapi.conf:%d:" % line)


def test_load_reads_file(tmp_path):
    path = tmp_path / "xapi.conf"
    path.write_text("cluster-stack-root=/x\n")
    assert config.load(str(path)).cluster_stack_root == "/x"


def test_load_of_named_missing_file_is_an_error(tmp_path):
    with pytest.raises(config.ConfigError):
        config.load(str(tmp_path / "absent.conf"))


def test_load_of_non_utf8_file_names_line(tmp_path):
    path = tmp_path / "xapi.conf"
    path.write_bytes(b"a = 1\nb = \xff\n")
    with pytest.raises(config.ConfigError) as info:
        config.load(str(path))
    assert info.value.line == 2
