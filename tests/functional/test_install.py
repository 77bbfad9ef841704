"""``make install`` installs for the system interpreter and leaves ``.venv`` alone.

The test runs the real ``make install DESTDIR=<tmp>`` of the repository
(with ``.venv/bin`` first on make's PATH, the order that broke it before),
then runs the installed stack script and driver exactly as xapi runs them:
executed directly (their ``#!`` line picks the interpreter), with only
``PATH`` in the environment.  Because the tree is installed under a
DESTDIR and not on ``/``, each run happens in a private mount namespace
where the DESTDIR's site-packages is bind-mounted over the system
interpreter's (``tests/functional/helpers/mountns_exec.py``); nothing outside that
namespace sees it.
"""

import os
import shutil
import subprocess
import sys
import xmlrpc.client

import pytest

from helpers import MOUNTNS_EXEC
from sm_clusterstack.smapi import call as smapi_call

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYSTEM_PYTHON = "/usr/bin/python3"
XAPI_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _sysconfig(python, key):
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()[%r])" % key],
                          stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode().strip()


def skip_reason():
    """Why this machine cannot run the test, or ""."""
    if os.geteuid() != 0:
        return "needs root (bind mounts in a private mount namespace)"
    if not shutil.which("unshare") or not shutil.which("make"):
        return "needs unshare and make"
    if subprocess.run([SYSTEM_PYTHON, "-c", "import lxml"], timeout=30).returncode != 0:
        return "%s has no lxml (sh .ci/install-deps installs python3-lxml)" % SYSTEM_PYTHON
    return ""


def run_installed(destdir, sitelib, argv, path=XAPI_PATH):
    """Run ``argv`` (installed paths) with only PATH set, the DESTDIR's sitelib standing for the real one."""
    launcher = [sys.executable, MOUNTNS_EXEC,
                "--bind", destdir + sitelib, sitelib, "--path", path, "--"]
    return subprocess.run(["unshare", "--mount", "--propagation", "private"] + launcher + argv,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    destdir = str(tmp_path_factory.mktemp("destdir"))
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "install", "DESTDIR=" + destdir],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()
    return destdir, _sysconfig(SYSTEM_PYTHON, "purelib"), proc.stdout.decode()


def test_make_install_says_which_interpreter_and_leaves_the_venv_alone(installed):
    destdir, sitelib, output = installed
    assert "make install: for %s (Python 3." % SYSTEM_PYTHON in output
    assert os.path.isfile(os.path.join(destdir + sitelib, "sm_clusterstack", "constraints.py"))
    where = subprocess.run([sys.executable, "-c", "import sm_clusterstack; print(sm_clusterstack.__file__)"],
                           stdout=subprocess.PIPE, check=True, timeout=30, cwd="/").stdout.decode()
    assert where.strip() == os.path.join(ROOT, "sm_clusterstack", "__init__.py")  # still the editable copy


def python_stack(destdir):
    """The installed stack whose scripts are Python (the corosync-based one), as installed under ``/``."""
    root = "/usr/libexec/xapi/cluster-stack"
    for name in sorted(os.listdir(destdir + root)):
        with open(os.path.join(destdir + root, name, "ha_set_pool_state")) as f:
            if "python" in f.readline():
                return os.path.join(root, name)
    raise AssertionError("no Python stack installed")


def test_installed_scripts_name_the_system_interpreter(installed):
    destdir = installed[0]
    for path in ("/opt/xensource/sm/LVMSR", python_stack(destdir) + "/ha_query_liveset"):
        with open(destdir + path) as f:
            assert f.readline() == "#!%s\n" % SYSTEM_PYTHON


def test_installed_stack_script_runs_on_the_system_interpreter(installed):
    """ha_set_pool_state with no state: the library loads and refuses with INVALID_PARAMETER (1), not 16."""
    destdir, sitelib, _ = installed
    stack_dir = python_stack(destdir)
    proc = run_installed(destdir, sitelib, [destdir + stack_dir + "/ha_set_pool_state"],
                         path=XAPI_PATH + ":" + destdir + stack_dir)
    assert (proc.returncode, proc.stderr.decode()) == (1, "ha_set_pool_state: expected one of: init active invalid\n")


def test_installed_driver_answers_sr_get_driver_info(installed):
    destdir, sitelib, _ = installed
    proc = run_installed(destdir, sitelib, [destdir + "/opt/xensource/sm/OCFS2SR",
                                            smapi_call.Call("sr_get_driver_info").to_xml()])
    assert proc.returncode == 0, proc.stderr.decode()
    (info,), _ = xmlrpc.client.loads(proc.stdout.decode())
    assert info["required_cluster_stack"] == ["corosync-ha"]


def test_installed_command_runs(installed):
    destdir, sitelib, _ = installed
    bindir = _sysconfig(SYSTEM_PYTHON, "scripts")
    proc = run_installed(destdir, sitelib, [destdir + bindir + "/sm-clusterstack", "--version"])
    assert proc.returncode == 0 and proc.stdout.decode().startswith("sm-clusterstack ")


def man_pages():
    """The man pages of the repository's man/, as (section, file name)."""
    pages = [(name.rpartition(".")[2], name) for name in sorted(os.listdir(os.path.join(ROOT, "man")))]
    assert ("1", "sm-clusterstack.1") in pages and ("7", "xapi-cluster-stack.7") in pages, pages
    return pages


def test_make_install_puts_every_man_page_under_the_prefix_in_the_destdir(installed):
    """<prefix>/share/man/manN for the prefix of the command's bindir, below DESTDIR, readable by all."""
    destdir = installed[0]
    mandir = os.path.dirname(_sysconfig(SYSTEM_PYTHON, "scripts")) + "/share/man"
    for section, name in man_pages():
        path = "%s%s/man%s/%s" % (destdir, mandir, section, name)
        assert os.path.isfile(path), path
        assert os.stat(path).st_mode & 0o777 == 0o644, path
        with open(path) as installed_page, open(os.path.join(ROOT, "man", name)) as source:
            assert installed_page.read() == source.read(), name


def test_make_path_puts_the_venvs_sm_clusterstack_on_path_and_make_run_says_so():
    """Issue 21: after ``make run`` the command is not on PATH; ``eval "$(make -s path)"`` puts it there.

    ``make run``'s last step prints that line; ``make -n`` shows it without running the kit.
    """
    shell = subprocess.run(["sh", "-c", 'eval "$(make -s path)" && command -v sm-clusterstack'], cwd=ROOT,
                           env={"PATH": XAPI_PATH, "HOME": os.environ.get("HOME", "/root")},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == os.path.join(ROOT, ".venv", "bin", "sm-clusterstack")
    # --no-print-directory: under `make test` a make prints its directories
    shown = subprocess.run(["make", "--no-print-directory", "-n", "run"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60).stdout
    assert 'eval "$(make -s path)"' in shown.splitlines()[-1], shown
