"""Every file, module, section and make target the README names is in the repository.

The checker reads the README's markdown links, its backticked words and its
references to sections (``docs/interfaces.md, section 4``, ``see "Tasks and
logs"``) and looks each up in the repository; its own test runs it on a
README with one broken reference of each kind, which it must report.
"""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP_TOP = {".git", ".venv", ".venv36", "build", "dist", ".pytest_cache", "reports"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")
SECTION = re.compile(r"(docs/[\w.-]+\.md)\)?,? section (\d+)")
SEE = re.compile(r'see "([^"]+)"')
MAKE = re.compile(r"`make ([a-z][\w-]*)")
MARKDOWN = re.compile(r"\b([\w./-]+\.md)\b")
FENCED = re.compile(r"^```.*?^```", re.M | re.S)


def top_level(root):
    return {name for name in os.listdir(root) if name not in SKIP_TOP}


def headings(path):
    with open(path) as f:
        return [line.lstrip("#").strip() for line in f if line.startswith("#")]


def _path_problem(root, word):
    word = word.rstrip(".,;:)").rstrip("/")
    if not word or any(c in word for c in "<>${}=|") or word.startswith(("/", "http")):
        return None
    if word.split("/")[0] not in top_level(root):
        return None
    return None if glob.glob(os.path.join(root, word)) else "no file %s" % word


def _module_problem(root, word):
    parts = word.rstrip(".,;:)").split(".")
    if parts[0] != "sm_clusterstack" or len(parts) < 2:
        return None
    for end in range(len(parts), 1, -1):
        base = os.path.join(root, *parts[:end])
        if os.path.isfile(base + ".py") or os.path.isdir(base):
            return None
    return "no module %s" % ".".join(parts[:2])


def problems(text, root=ROOT):
    """Every reference of ``text`` (a README) that the repository at ``root`` does not have."""
    found = []
    text = FENCED.sub("", text)  # transcripts and commands: their paths are examples, not references
    for target in LINK.findall(text):
        if not re.match(r"[a-z]+:", target):
            path, _, anchor = target.partition("#")
            if path and not os.path.exists(os.path.join(root, path)):
                found.append("link to missing %s" % path)
    for code in CODE.findall(text):
        for word in code.split():
            problem = _path_problem(root, word) or _module_problem(root, word)
            if problem:
                found.append(problem)
    for path, number in SECTION.findall(text):
        full = os.path.join(root, path)
        if not os.path.exists(full) or not any(h.startswith(number + ".") for h in headings(full)):
            found.append("no section %s of %s" % (number, path))
    own = headings(os.path.join(root, "README.md")) if os.path.exists(os.path.join(root, "README.md")) else []
    own += [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    for title in SEE.findall(text):
        if not any(title.strip("`") == h.replace("`", "") or title == h for h in own):
            found.append('no section "%s"' % title)
    with open(os.path.join(root, "Makefile")) as f:
        makefile = f.read()
    for target in MAKE.findall(text):
        if not re.search(r"^%s:" % re.escape(target), makefile, re.M):
            found.append("no make target %s" % target)
    for name in MARKDOWN.findall(text):
        if "/" not in name and not glob.glob(os.path.join(root, "**", name), recursive=True):
            found.append("no file %s" % name)
    return sorted(set(found))


def test_the_readme_names_only_what_the_repository_has():
    with open(os.path.join(ROOT, "README.md")) as f:
        assert problems(f.read()) == []


def test_the_checker_finds_each_kind_of_broken_reference():
    bad = "\n".join([
        "See [the reference](docs/nothing.md) and REFERENCE.md section 4.",
        "The script interface ([docs/interfaces.md](docs/interfaces.md), section 99).",
        "Run `make no-such-target` on `drivers/NoSuchSR` from `sm_clusterstack.nosuchmodule`,",
        'as the shim does (see "No such section").',
    ])
    assert problems(bad) == sorted([
        "link to missing docs/nothing.md", "no file REFERENCE.md", "no section 99 of docs/interfaces.md",
        "no make target no-such-target", "no file drivers/NoSuchSR", "no module sm_clusterstack.nosuchmodule",
        'no section "No such section"'])


def test_docs_interfaces_has_the_numbered_sections_the_readme_uses():
    titles = headings(os.path.join(ROOT, "docs", "interfaces.md"))
    for number in range(1, 9):
        assert any(t.startswith("%d." % number) for t in titles), number
