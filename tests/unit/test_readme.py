"""The README and the guides in docs/ name only what the repository and the command line have.

The checker reads each page's markdown links (and their #anchors), its
backticked words, its references to sections (``interfaces.md, section 4``,
``see "Tasks and logs"``), and every command it shows, in code spans and
in fenced blocks: ``make <target>`` against the Makefile,
``sm-clusterstack <verb> [<action>] [--option]`` against the real argparse
parser (and, for the verbs that parse their own argv, their usage), and
``xe <command>`` against the real xe's command table (its ``help``).  Every
page of docs/ and man/ must be reachable by links from README.md.  Each
kind of finding has a test that feeds the checker a page broken that way.
"""

import argparse
import contextlib
import glob
import io
import os
import re

import pytest

from sm_clusterstack import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP_TOP = {".git", ".venv", ".venv36", "build", "dist", ".pytest_cache", "reports"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")
SECTION = re.compile(r"([\w./-]+\.md)\)?,?\s+section\s+(\d+)")
SEE = re.compile(r'see\s+"([^"]+)"')
MARKDOWN = re.compile(r"\b([\w./-]+\.md)\b")
FENCED = re.compile(r"^```.*?^```", re.M | re.S)
COMMENT = re.compile(r"(?:^|[ \t])#.*$", re.M)
SM_COMMAND = re.compile(r"(?:^|[\s`($])sm-clusterstack[ \t]+([^`|;)&#\n]*)")
XE_COMMAND = re.compile(r"(?:^|[\s`($])xe[ \t]+([^`|;)&#\n]*)")
MAKE_COMMAND = re.compile(r"(?:^|[\s`($])make[ \t]+([^`|;)&#\n]*)")
WORD = re.compile(r"[a-z][a-z0-9-]*\Z")
HELP_ITEM = re.compile(r"^(?:command name +: (\S+)|Unknown command '([^']*)')", re.M)  # xe help's answer, per name


def top_level(root):
    return {name for name in os.listdir(root) if name not in SKIP_TOP}


def page_headings(text):
    """The headings of a markdown text (fenced blocks left out: their # lines are comments)."""
    return [line.lstrip("#").strip() for line in FENCED.sub("", text).splitlines() if line.startswith("#")]


def headings(path):
    with open(path) as f:
        return page_headings(f.read())


def anchor_of(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _path_problem(root, word):
    word = word.rstrip(".,;:)").rstrip("/")
    if not word or any(c in word for c in "<>${}=|") or word.startswith(("/", "http")):
        return None
    if word.split("/")[0] not in top_level(root):
        return None
    return None if glob.glob(os.path.join(root, word)) else "no file %s" % word


def _module_problem(root, word):
    """A dotted name under sm_clusterstack names a module, or a module and one attribute of it."""
    parts = word.rstrip(".,;:)").split(".")
    if parts[0] != "sm_clusterstack" or len(parts) < 2:
        return None
    for end in range(len(parts), 1, -1):
        base = os.path.join(root, *parts[:end])
        if os.path.isfile(base + ".py") or os.path.isdir(base):
            return None if len(parts) - end <= 1 else "no module %s" % ".".join(parts[:end + 1])
    return "no module %s" % ".".join(parts[:2])


def _resolve(root, page, target):
    """``target`` of a link on ``page`` (a path relative to ``root``), as a path relative to ``root``."""
    return os.path.normpath(os.path.join(os.path.dirname(page), target))


def _link_problems(root, page, text):
    found = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        where = _resolve(root, page, path) if path else page
        if not os.path.exists(os.path.join(root, where)):
            found.append("link to missing %s" % path)
        elif anchor and where.endswith(".md"):
            anchors = [anchor_of(h) for h in (headings(os.path.join(root, where)) if path else page_headings(text))]
            if anchor not in anchors and re.sub(r"-\d+\Z", "", anchor) not in anchors:
                found.append("no heading #%s in %s" % (anchor, where))
    return found


def _section_problems(root, page, text):
    found = []
    for path, number in SECTION.findall(text):
        candidates = [os.path.join(root, _resolve(root, page, path)), os.path.join(root, path)]
        full = next((c for c in candidates if os.path.isfile(c)), None)
        if full is not None and not any(h.startswith(number + ".") for h in headings(full)):
            found.append("no section %s of %s" % (number, path))
    return found


def problems(text, root=ROOT, page="README.md"):
    """Every reference of ``text`` (the page ``page`` of the repository at ``root``) that is not there."""
    shown = code_texts(text)
    found = command_problems(shown, root)
    text = FENCED.sub("", text)  # transcripts and commands: their paths are examples, not references
    found += _link_problems(root, page, text) + _section_problems(root, page, text)
    for code in CODE.findall(text):
        for word in code.split():
            problem = _path_problem(root, word) or _module_problem(root, word)
            if problem:
                found.append(problem)
    own = page_headings(text)
    readme = os.path.join(root, "README.md")
    if page == "README.md" and os.path.exists(readme):
        own += headings(readme)
    for title in SEE.findall(text):
        if not any(title.strip("`") == h.replace("`", "") or title == h for h in own):
            found.append('no section "%s"' % title)
    for name in MARKDOWN.findall(text):
        if "/" not in name and not glob.glob(os.path.join(root, "**", name), recursive=True):
            found.append("no file %s" % name)
    return sorted(set(found))


def code_texts(text):
    """What a page shows as code: its fenced blocks (continued lines joined, comments cut) and its code spans."""
    blocks = [COMMENT.sub("", block.replace("\\\n", " ")) for block in FENCED.findall(text)]
    return blocks + CODE.findall(FENCED.sub("", text))


def _shown(pattern, shown):
    """The argument lists of every command ``pattern`` finds in ``shown``, split into words."""
    for code in shown:
        for match in pattern.finditer(code):
            yield match.group(1).split()


def command_problems(shown, root=ROOT):
    """The ``make``, ``sm-clusterstack`` and ``xe`` commands of ``shown`` that do not exist."""
    with open(os.path.join(root, "Makefile")) as f:
        makefile = f.read()
    found = []
    for words in _shown(MAKE_COMMAND, shown):
        target = next((w for w in words if not w.startswith("-") and "=" not in w), "")
        if WORD.match(target) and not re.search(r"^%s:" % re.escape(target), makefile, re.M):
            found.append("no make target %s" % target)
    for words in _shown(SM_COMMAND, shown):
        found += verb_problems(words)
    for words in _shown(XE_COMMAND, shown):
        found += xe_problems(words)
    return found


def subcommands(parser):
    """{name: parser} of an argparse parser's subcommands ({} when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser):
    """The option strings of an argparse parser."""
    return {s for action in parser._actions for s in action.option_strings}


def raw_actions(verb):
    """The actions a verb that parses its own argv lists in its usage (``ha``: status, preflight)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        cli.main([verb, "--help"])
    return set(re.findall(r"sm-clusterstack %s ([a-z][\w-]*)" % re.escape(verb), err.getvalue()))


def verb_problems(words):
    """What in ``sm-clusterstack <words>`` the command line does not know."""
    if not words or not WORD.match(words[0].rstrip(":")):
        return []  # a placeholder (<verb>) or nothing
    verb, output_line = words[0].rstrip(":"), words[0].endswith(":")  # "sm-clusterstack xe: ..." is output
    verbs = subcommands(cli.build_parser())
    if verb not in verbs:
        return ["no sm-clusterstack verb %s" % verb]
    if output_line or verb == "xe":
        return []  # xe's command: xe_problems
    if not options(verbs[verb]) - {"-h", "--help"} and not subcommands(verbs[verb]):
        return _raw_verb_problems(verb, words[1:])  # a verb that parses its own argv (RAW_ARGUMENTS)
    return _parsed_problems("sm-clusterstack " + verb, verbs[verb], words[1:])


def _raw_verb_problems(verb, words):
    actions = raw_actions(verb)
    action = next((w for w in words if not w.startswith("-") and "=" not in w), None)
    if actions and action is not None and WORD.match(action) and action not in actions:
        return ["no sm-clusterstack %s action %s" % (verb, action)]
    return []


def _parsed_problems(name, parser, words):
    found = []
    actions = subcommands(parser)
    for i, word in enumerate(words):
        if word == "--":
            break
        if actions and not word.startswith("-"):
            if WORD.match(word) and word not in actions:
                return found + ["no %s action %s" % (name, word)]
            if word in actions:
                return found + _parsed_problems(name + " " + word, actions[word], words[i + 1:])
        elif word.startswith("--") and WORD.match(word[2:].split("=")[0]) and word.split("=")[0] not in options(
                parser):
            found.append("no option %s of %s" % (word.split("=")[0], name))
    return found


def xe_problems(words):
    """The command of ``xe <words>`` (the first word left once xe took its options) if xe lacks it.

    The real xe answers: ``xe help <words>`` prints, for each word that is
    not an option of the client, its record or "Unknown command".
    """
    words = [w.strip("'\"") for w in words]
    kept = [w for w in words if w.startswith("-") or ("=" not in w and not any(c in w for c in "<>$"))]
    if not [w for w in kept if not w.startswith("-")]:
        return []
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["xe", "help"] + kept)
    for known, unknown in HELP_ITEM.findall(out.getvalue()):
        if unknown and "--" + unknown in kept:
            continue  # --flag: a parameter (flag=true), not the command
        return ["no xe command %s" % unknown] if unknown else []
    return []


def pages(root):
    """README.md and every markdown page of docs/, as paths relative to ``root``."""
    found = ["README.md"] if os.path.exists(os.path.join(root, "README.md")) else []
    return found + sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "docs", "*.md")))


def linked_from_readme(root):
    """Every file reachable from README.md by markdown links, through the markdown pages it reaches."""
    seen, todo = set(), ["README.md"]
    while todo:
        page = todo.pop()
        if page in seen or not os.path.isfile(os.path.join(root, page)):
            continue
        seen.add(page)
        if page.endswith(".md"):
            with open(os.path.join(root, page)) as f:
                text = FENCED.sub("", f.read())
            todo += [_resolve(root, page, t.partition("#")[0]) for t in LINK.findall(text)
                     if t.partition("#")[0] and not re.match(r"[a-z]+:", t)]
    return seen


def unlinked(root):
    """The files of docs/ and man/ no link leads to from README.md."""
    reachable = linked_from_readme(root)
    found = []
    for folder in ("docs", "man"):
        for directory, _dirs, files in os.walk(os.path.join(root, folder)):
            for name in files:
                path = os.path.relpath(os.path.join(directory, name), root)
                if path not in reachable:
                    found.append("%s is not linked from README.md's map" % path)
    return sorted(found)


def repository_problems(root=ROOT):
    """Every problem of every page, each prefixed by its page, then the pages nothing links."""
    found = []
    for page in pages(root):
        with open(os.path.join(root, page)) as f:
            found += ["%s: %s" % (page, p) for p in problems(f.read(), root, page)]
    return found + unlinked(root)


@pytest.fixture(autouse=True)
def plain_xe(monkeypatch, tmp_path):
    """xe as on a machine without ~/.xe nor $XE_EXTRA_ARGS (they would add parameters)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XE_EXTRA_ARGS", raising=False)


def test_the_readme_and_the_docs_name_only_what_the_repository_and_the_cli_have():
    assert repository_problems() == []


def test_the_docs_show_commands_at_all():
    """The command checks have something to check: the pages show each kind of command."""
    shown = []
    for page in pages(ROOT):
        with open(os.path.join(ROOT, page)) as f:
            shown += code_texts(f.read())
    verbs = {words[0] for words in _shown(SM_COMMAND, shown) if words}
    assert {"serve", "xe", "ha", "kit", "upgrade", "stack-list", "sandbox"} <= verbs
    assert len(list(_shown(XE_COMMAND, shown))) >= 10 and len(list(_shown(MAKE_COMMAND, shown))) >= 10


def test_the_checker_finds_each_kind_of_broken_reference():
    bad = "\n".join([
        "See [the reference](docs/nothing.md) and REFERENCE.md section 4.",
        "The script interface ([docs/interfaces.md](docs/interfaces.md), section 99).",
        "Run `make no-such-target` on `drivers/NoSuchSR` from `sm_clusterstack.nosuchmodule`",
        "(`sm_clusterstack.xapi.nosuch.module`, not `sm_clusterstack.constraints.check_plug`),",
        'as the shim does (see "No such section").',
    ])
    assert problems(bad) == sorted([
        "link to missing docs/nothing.md", "no file REFERENCE.md", "no section 99 of docs/interfaces.md",
        "no make target no-such-target", "no file drivers/NoSuchSR", "no module sm_clusterstack.nosuchmodule",
        "no module sm_clusterstack.xapi.nosuch",
        'no section "No such section"'])


def test_the_checker_finds_each_kind_of_command_the_cli_lacks():
    bad = "\n".join([
        "Run `sm-clusterstack nosuchcmd`, `sm-clusterstack kit --no-such-option stack x`,",
        "`sm-clusterstack sandbox nosuchaction --state S`, `sm-clusterstack ha nosuchaction`",
        "and `xe no-such-command uuid=x`; the kit's page ([kit](docs/kit.md#no-such-heading)).",
        "```sh",
        "sm-clusterstack serve --state DIR \\",
        "    --no-such-serve-option 1",
        "$ xe -s URL --password-file F sr-nosuch --no-progress",
        "make no-such-target-in-a-block   # a comment: make nothing-here",
        "```",
    ])
    assert problems(bad) == sorted([
        "no sm-clusterstack verb nosuchcmd", "no option --no-such-option of sm-clusterstack kit",
        "no sm-clusterstack sandbox action nosuchaction", "no sm-clusterstack ha action nosuchaction",
        "no xe command no-such-command", "no heading #no-such-heading in docs/kit.md",
        "no option --no-such-serve-option of sm-clusterstack serve", "no xe command sr-nosuch",
        "no make target no-such-target-in-a-block"])


def test_the_checker_accepts_the_commands_the_cli_has():
    good = "\n".join([
        "`sm-clusterstack kit --ha-timeout 10 stack x`, `sm-clusterstack sandbox exec --state S h -- ls --nosuch`,",
        "`sm-clusterstack ha status --json`, `sm-clusterstack xe: embedded pool` and",
        "`xe pool-ha-enable heartbeat-sr-uuids=$SR --no-progress`, [map](README.md#the-map).",
        "```",
        "$ sm-clusterstack xe --sm-dir drivers --hosts 2 sm-list params=uuid",
        "$ X=$(sm-clusterstack xe pool-list --minimal 2>/dev/null)",
        "```",
    ])
    assert problems(good) == []


def _write(root, path, text):
    full = os.path.join(str(root), path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def test_a_doc_in_docs_is_checked_and_every_page_must_be_linked(tmp_path):
    """A page of docs/ is read like the README, and a page of docs/ or man/ nothing links is reported."""
    _write(tmp_path, "Makefile", "run:\n")
    _write(tmp_path, "README.md", "# x\n\nThe map: [operating](docs/operating.md).\n")
    _write(tmp_path, "docs/operating.md", "# Operating\n\nRun `sm-clusterstack nosuchcmd`; the page "
                                          "[x(1)](../man/x.1), the guide [kit](kit.md#running).\n")
    _write(tmp_path, "docs/kit.md", "# Kit\n\n## Running\n")
    _write(tmp_path, "docs/orphan.md", "# Orphan\n")
    _write(tmp_path, "man/x.1", ".TH X 1\n")
    _write(tmp_path, "man/y.7", ".TH Y 7\n")
    assert repository_problems(str(tmp_path)) == [
        "docs/operating.md: no sm-clusterstack verb nosuchcmd",
        "docs/orphan.md is not linked from README.md's map", "man/y.7 is not linked from README.md's map"]


def test_docs_interfaces_has_the_numbered_sections_the_readme_uses():
    titles = headings(os.path.join(ROOT, "docs", "interfaces.md"))
    for number in range(1, 9):
        assert any(t.startswith("%d." % number) for t in titles), number
