"""sm-clusterstack as a dom0 runs it, under Python 3.6: the tree ``make py36`` installs.

``make py36`` installs the working tree for ``.venv36``'s interpreter the
way the RPM does (``packaging/install_tree.py``): the package into its
site-packages, the command, drivers and stacks into ``build/py36`` with
``#!`` lines naming it.  A test that runs the shim, a driver or a stack
from there gives it xapi's PATH only (no venv on it, no PYTHONPATH): what
runs is what a dom0 would run.  ``problem()`` says why the tree cannot be
used: absent (no Python 3.6 here) or older than the working tree.
"""

import filecmp
import os

from helpers import REPO

TREE = os.path.join(REPO, "build", "py36")
COMMAND = os.path.join(TREE, "bin", "sm-clusterstack")
SM_DIR = os.path.join(TREE, "sm")
STACK_ROOT = os.path.join(TREE, "cluster-stack")
XAPI_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # no venv: each #! names its python


def interpreter():
    """The interpreter the installed command names in its ``#!`` line."""
    with open(COMMAND) as f:
        return f.readline()[2:].strip()


def python_processes(pids):
    """The interpreters (resolved executables) of those of ``pids`` that run a Python."""
    found = set()
    for pid in pids:
        try:
            exe = os.path.realpath("/proc/%d/exe" % pid)
        except OSError:
            continue
        if os.path.basename(exe).startswith("python"):
            found.add(exe)
    return found


def absent():
    """Why there is no 3.6 tree ("" when there is one)."""
    if not os.path.exists(COMMAND):
        return "no Python 3.6 install in build/py36: make py36 (it needs pyenv's 3.6.x or PYTHON36)"
    return ""


def stale():
    """The first file of the working tree that the 3.6 tree does not hold as it is now ("" when none)."""
    sitelib = os.path.join(os.path.dirname(os.path.dirname(interpreter())), "lib", "python3.6", "site-packages")
    source = os.path.join(REPO, "sm_clusterstack")
    for directory, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in (n for n in files if n.endswith(".py")):
            path = os.path.join(directory, name)
            installed = os.path.join(sitelib, "sm_clusterstack", os.path.relpath(path, source))
            if not os.path.exists(installed) or not filecmp.cmp(path, installed, shallow=False):
                return os.path.relpath(path, REPO)
    for folder, installed_folder in (("drivers", SM_DIR), ("libexec/xapi/cluster-stack", STACK_ROOT)):
        for directory, _dirs, files in os.walk(os.path.join(REPO, folder)):
            for name in (n for n in files if folder != "drivers" or n.endswith("SR")):
                path = os.path.join(directory, name)
                installed = os.path.join(installed_folder, os.path.relpath(path, os.path.join(REPO, folder)))
                if not os.path.exists(installed) or _body(path) != _body(installed):
                    return os.path.relpath(path, REPO)
    return ""


def _body(path):
    """The file without its ``#!`` line (the installed copy's names another interpreter)."""
    with open(path, "rb") as f:
        data = f.read()
    return data.partition(b"\n")[2] if data.startswith(b"#!") else data
