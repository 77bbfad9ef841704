"""The pool options that serve, kit, xe --embedded, stack-list, upgrade and sandbox share (cli/options.py)."""

import argparse

from sm_clusterstack import cli
from sm_clusterstack.cli import options
from sm_clusterstack.cli.xe import connect, help as xe_help

SHARED = [value for value in vars(options).values() if isinstance(value, options.Shared)]


def verb_parsers():
    """(verb, parser) of every verb argparse parses, the sandbox actions' parsers included."""
    top = cli.build_parser()
    found = []
    for verb, parser in top._subparsers._group_actions[0].choices.items():
        found.append((verb, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.extend((verb, sub) for sub in action.choices.values())
    return found


def test_every_wording_is_that_of_a_verb():
    verbs = set(dict(cli.VERBS))
    assert [(o.flag, v) for o in SHARED for v in o.wording if v not in verbs] == []


def test_every_option_of_every_verb_has_its_help_text():
    """A shared option added to a verb that has no wording for it would show no help."""
    silent = [(verb, action.option_strings) for verb, parser in verb_parsers() for action in parser._actions
              if action.option_strings and not action.help]
    assert silent == []


def test_a_verb_gives_a_shared_option_its_own_defaults():
    parser = cli.build_parser()
    serve = parser.parse_args(["serve", "--state", "/s"])
    kit = parser.parse_args(["kit"])
    assert (serve.hosts, serve.driver_timeout, serve.sandbox_prefix) == (1, 300.0, "")
    assert (kit.hosts, kit.driver_timeout) == (2, 120.0)
    assert options.HOSTS.keywords("kit")["help"] != options.HOSTS.keywords("serve")["help"]


def test_xe_reads_the_embedded_pool_options_under_the_names_serve_uses():
    argv = ["sr-list", "--embedded", "/p", "--sm-dir", "/d", "--cluster-stack-root=/r", "--hosts", "3",
            "--password-file", "/pw", "--xapi-conf", "/c", "--sandbox-prefix", "t-"]
    parsed, rest = connect.parse(argv, {})
    assert rest == ["sr-list"]
    assert {key: parsed.get(key) for key in ("embedded", "sm_dir", "cluster_stack_root", "hosts", "password_file",
                                             "xapi_conf", "sandbox_prefix")} == {
        "embedded": "/p", "sm_dir": "/d", "cluster_stack_root": "/r", "hosts": "3", "password_file": "/pw",
        "xapi_conf": "/c", "sandbox_prefix": "t-"}
    serve = cli.build_parser().parse_args(["serve", "--state", "/s"])
    assert all(hasattr(serve, option.dest) for option in options.XE_EMBEDDED)


def test_xe_usage_names_every_embedded_pool_option():
    assert [o.flag for o in options.XE_EMBEDDED if o.flag not in xe_help.USAGE] == []
