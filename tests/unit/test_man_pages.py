"""The man pages say what the command line and the stack interface really are.

Each page of man/ is read as text (troff escapes undone) and held to its
source of truth: the argparse parser of a verb (its options, no more, no
fewer), the usage the verbs that parse their own argv print (xe, ha), xe's
command table (its ``help --all``), and the script names and MTC exit
codes of ``sm_clusterstack.stacks``.  Rendering them is
tests/functional/test_man_render.py's.
"""

import contextlib
import io
import os
import re

import pytest

from sm_clusterstack import cli, stacks
from sm_clusterstack.stacks import mtc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(ROOT, "man")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]*")
VERB_PAGES = {"serve": "sm-clusterstack-serve.1", "kit": "sm-clusterstack-kit.1"}
HELP_OPTIONS = {"-h", "--help"}


def text_of(troff):
    """A man page's source as the words it shows: escapes and font changes undone, comments dropped."""
    lines = [line for line in troff.splitlines() if not line.startswith((".\\\"", "'\\\""))]
    text = "\n".join(lines)
    for escape, plain in (("\\-", "-"), ("\\e", "\\"), ("\\ ", " "), ("\\(dq", '"'), ("\\(bu", "*"), ("\\&", "")):
        text = text.replace(escape, plain)
    return re.sub(r"\\f[BIRP]", "", text)


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return text_of(f.read())


def section(text, title):
    """The text of section ``.SH title`` of a page ("" when it has none)."""
    found = re.search(r"^\.SH %s\n(.*?)(?=^\.SH |\Z)" % re.escape(title), text, re.M | re.S)
    return found.group(1) if found else ""


def verbs():
    return dict(cli_subcommands(cli.build_parser()))


def cli_subcommands(parser):
    from argparse import _SubParsersAction
    for action in parser._actions:
        if isinstance(action, _SubParsersAction):
            return action.choices
    return {}


def long_options(parser):
    return {s for action in parser._actions for s in action.option_strings if s.startswith("--")} - HELP_OPTIONS


def usage_of(argv):
    """What ``sm-clusterstack <argv>`` prints (stdout and stderr) for a verb that parses its own argv."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        cli.main(argv)
    return out.getvalue()


def tags(text):
    """The tag lines of a page's .TP paragraphs."""
    return re.findall(r"^\.TP\n(.*)$", text, re.M)


def tag_of(text, first_word, second_word=None):
    """The .TP tag line of ``text`` whose first word is ``first_word`` (and second ``second_word``, if given)."""
    wanted = [first_word] + ([second_word] if second_word else [])
    found = [t for t in tags(text) if re.sub(r"^\.\w+ ", "", t).split()[:len(wanted)] == wanted]
    assert found, "no paragraph for %s" % " ".join(wanted)
    return found[0]


@pytest.fixture(autouse=True)
def plain_xe(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XE_EXTRA_ARGS", raising=False)


def test_each_page_is_named_as_its_file_with_the_usual_sections():
    names = sorted(os.listdir(MAN))
    assert {"sm-clusterstack.1", "sm-clusterstack-serve.1", "sm-clusterstack-xe.1", "sm-clusterstack-ha.1",
            "sm-clusterstack-kit.1", "xapi-cluster-stack.7"} <= set(names)
    for name in names:
        text = page(name)
        title, _, number = name.rpartition(".")
        assert re.search(r"^\.TH %s %s " % (re.escape(title.upper()), number), text, re.M), name
        for wanted in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
            assert section(text, wanted).strip(), (name, wanted)
        assert section(text, "NAME").strip().startswith(title + " - "), name


def test_every_page_a_page_refers_to_exists():
    for name in os.listdir(MAN):
        for title, number in re.findall(r"^\.BR ((?:sm-clusterstack|xapi-cluster-stack)[\w-]*) \((\d)\)",
                                        page(name), re.M):
            assert os.path.exists(os.path.join(MAN, "%s.%s" % (title, number))), (name, title)


def test_the_main_page_documents_every_verb_and_no_other():
    documented = {re.sub(r"^\.B ", "", t).split()[0] for t in tags(section(page("sm-clusterstack.1"), "VERBS"))}
    assert documented == set(verbs())


@pytest.mark.parametrize("verb", sorted(VERB_PAGES))
def test_a_verb_page_shows_exactly_the_options_of_its_parser(verb):
    assert set(LONG_OPTION.findall(page(VERB_PAGES[verb]))) == long_options(verbs()[verb])


@pytest.mark.parametrize("verb", ["stack-list", "upgrade", "sandbox"])
def test_the_main_page_shows_exactly_the_options_of_its_small_verbs(verb):
    parser = verbs()[verb]
    for action in cli_subcommands(parser) or {None: None}:
        inner = cli_subcommands(parser)[action] if action else parser
        tag = tag_of(section(page("sm-clusterstack.1"), "VERBS"), verb, action)
        assert set(LONG_OPTION.findall(tag)) == long_options(inner), (verb, action)
        assert action is None or " %s" % action in tag


def test_the_xe_page_shows_every_option_of_xe_usage():
    usage = usage_of(["xe", "--help"])
    wanted = set(re.findall(r"(?<![\w-])(-{1,2}[a-z][\w-]*)", usage)) - {"-help", "--help"}
    assert {"-s", "-pwf", "--embedded", "--sandbox-prefix"} <= wanted
    shown = page("sm-clusterstack-xe.1")
    assert [option for option in sorted(wanted) if not re.search(r"(?<![\w-])%s(?![\w-])" % option, shown)] == []


def test_the_xe_page_names_only_xe_commands_and_covers_every_one():
    table = set(usage_of(["xe", "help", "--all", "--minimal"]).strip().split(","))
    commands = section(page("sm-clusterstack-xe.1"), "COMMANDS")
    named = {w for t in tags(commands) for w in re.findall(r"(?<![\w-])[a-z]+(?:-[a-z]+)+(?![\w=:-])", t)}
    families = {f for t in tags(commands) for f in re.findall(r"\bclass\s*-([a-z-]+)", t)}  # .IB class \-list
    assert {"list", "param-get", "param-set"} <= families
    classes = set(re.findall(r"^\.BR? (\w+)", re.search(r"^For\n(.*?):", commands, re.M | re.S).group(1), re.M))
    assert {"pool", "sr", "task"} <= classes
    assert sorted(named - table) == []
    assert sorted(table - named - {c + "-" + f for c in classes for f in families} - {"help"}) == []


def test_the_ha_page_shows_the_actions_and_options_of_ha_usage():
    usage = usage_of(["ha", "--help"])
    actions = set(re.findall(r"sm-clusterstack ha ([a-z]+)", usage))
    assert actions == {"status", "preflight"}
    synopsis = section(page("sm-clusterstack-ha.1"), "SYNOPSIS")
    for word in actions | set(re.findall(r"--[a-z]+", usage.split("Connection")[0])):
        assert word in synopsis, word


def test_the_interface_page_lists_every_script_and_exit_code():
    text = page("xapi-cluster-stack.7")
    for script in stacks.SCRIPTS + (stacks.SUPPORTED_SRS_FILE,):
        assert "/%s" % script in section(text, "SYNOPSIS"), script
        assert script in [re.sub(r"^\.B ", "", t).split()[0] for t in tags(section(text, "SCRIPTS"))], script
    table = re.search(r"^\.TS\n.*?^\.TE", section(text, "EXIT STATUS"), re.M | re.S).group(0)
    rows = dict(re.findall(r"^(\d+)\t(\w+)", table, re.M))
    assert rows == {str(code): name for code, name in mtc.NAMES.items()}
