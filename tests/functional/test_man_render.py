"""Every man page renders with man(1), as a reader's ``man -l`` would, without a warning.

``man -l --warnings`` runs groff with its warnings on; a page that
renders with one (a bad macro, a table wider than the line) fails, and
so does a line wider than the 80 columns it is laid out for.
"""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = sorted(os.listdir(os.path.join(ROOT, "man")))


@pytest.mark.parametrize("name", PAGES)
def test_the_page_renders_without_warnings_within_80_columns(name):
    if not shutil.which("man") or not shutil.which("groff"):
        pytest.skip("no man or groff here (sh .ci/install-deps installs man-db and groff-base)")
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8")
    done = subprocess.run(["man", "-l", "--warnings", os.path.join(ROOT, "man", name)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=60)
    text = re.sub(".\x08", "", done.stdout.decode())  # grotty's overstrikes (bold, underline) on a pipe
    assert (done.returncode, done.stderr.decode()) == (0, "")
    assert name.rpartition(".")[0].upper() in text.splitlines()[0]
    assert [line for line in text.splitlines() if len(line) > 80] == []
