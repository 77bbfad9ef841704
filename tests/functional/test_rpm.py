"""``make rpm`` builds a noarch RPM that installs on a dom0's layout and runs on Python 3.6.

The RPM is built with the real rpmbuild (Debian's ``rpm`` package here),
installed with ``rpm --root`` into a temporary root, and its driver and a
stack script are run from there.  The temporary root holds no interpreter,
so they run under pyenv's Python 3.6 where it is present (``.venv36``, made
by ``make venv36`` with the pinned lxml, for the stack script; the bare
pyenv 3.6 for the driver, which needs nothing but the standard library),
else under the system interpreter; ``PYTHONPATH`` names the root's
``/usr/lib/python3.6/site-packages`` because that root is not ``/``.
The package's scripts (%post: byte-compile, systemd reload) are not run
(``--noscripts``): there is no interpreter nor systemd in the root.
"""

import glob
import os
import shutil
import subprocess
import sys
import xmlrpc.client

import pytest

from sm_clusterstack.smapi import call as smapi_call

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SITELIB = "/usr/lib/python3.6/site-packages"


def python36(with_lxml):
    """A Python 3.6 (with lxml if asked), or None."""
    candidates = [os.path.join(ROOT, ".venv36", "bin", "python")] if with_lxml else []
    if not with_lxml:
        candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.6*/bin/python3.6")))
        candidates.append(os.path.join(ROOT, ".venv36", "bin", "python"))
    probe = "import sys; assert sys.version_info[:2] == (3, 6)" + ("; import lxml" if with_lxml else "")
    for candidate in candidates:
        if os.path.exists(candidate) and subprocess.run([candidate, "-c", probe], timeout=60).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not shutil.which("rpmbuild") or not shutil.which("rpm"):
        pytest.skip("no rpmbuild/rpm (sh .ci/install-deps installs Debian's rpm)")
    topdir = str(tmp_path_factory.mktemp("rpmbuild"))
    proc = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "rpm", "RPM_TOPDIR=" + topdir],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()[-4000:]
    package, = glob.glob(os.path.join(topdir, "RPMS", "noarch", "sm-clusterstack-*.noarch.rpm"))
    root = str(tmp_path_factory.mktemp("dom0root"))
    for argv in (["rpm", "--root", root, "--initdb"],
                 ["rpm", "--root", root, "-i", "--nodeps", "--noscripts", package]):
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert done.returncode == 0, done.stdout.decode()
    return package, root


def run_from(root, python, argv):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": root + SITELIB}
    return subprocess.run([python] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)


def test_the_package_is_noarch_for_python_3_6(installed):
    package, _ = installed
    query = subprocess.run(["rpm", "-qp", "--qf", "%{ARCH}\n", package], stdout=subprocess.PIPE, timeout=60)
    requires = subprocess.run(["rpm", "-qpR", package], stdout=subprocess.PIPE, timeout=60).stdout.decode()
    assert query.stdout.decode().split()[-1] == "noarch"
    assert "python(abi) = 3.6" in requires and "python3-lxml" in requires


def test_dom0_layout_unit_and_logrotate(installed):
    _, root = installed
    for path in (SITELIB + "/sm_clusterstack/constraints.py", "/opt/xensource/sm/OCFS2SR",
                 "/usr/bin/sm-clusterstack", "/usr/libexec/xapi/cluster-stack/xhad/ha_start_daemon",
                 "/usr/lib/systemd/system/sm-clusterstack.service", "/etc/logrotate.d/sm-clusterstack"):
        assert os.path.exists(root + path), path
    with open(root + "/opt/xensource/sm/LVMSR") as f:
        assert f.readline() == "#!/usr/bin/python3\n"
    with open(root + "/usr/lib/systemd/system/sm-clusterstack.service") as f:
        assert "ExecStart=/usr/bin/sm-clusterstack serve --state /var/lib/sm-clusterstack/pool --log-file" in f.read()


def test_installed_driver_answers_sr_get_driver_info_on_python_3_6(installed):
    _, root = installed
    python = python36(with_lxml=False) or sys.executable
    proc = run_from(root, python, [root + "/opt/xensource/sm/LVMSR", smapi_call.Call("sr_get_driver_info").to_xml()])
    assert proc.returncode == 0, proc.stderr.decode()
    (info,), _ = xmlrpc.client.loads(proc.stdout.decode())
    assert info["required_cluster_stack"] == [] and info["name"] == "LVM"


def test_installed_stack_script_runs_on_python_3_6(installed):
    _, root = installed
    python = python36(with_lxml=True)
    if python is None and python36(with_lxml=False):
        pytest.skip("Python 3.6 here, but .venv36 with lxml is missing: run make venv36")
    stacks = [d for d in glob.glob(root + "/usr/libexec/xapi/cluster-stack/*/ha_set_pool_state")
              if open(d).readline().startswith("#!/usr/bin/python3")]
    proc = run_from(root, python or "/usr/bin/python3", [stacks[0]])
    name = os.path.basename(stacks[0])
    assert (proc.returncode, proc.stderr.decode()) == (1, "%s: expected one of: init active invalid\n" % name)


def test_the_package_holds_every_man_page(installed):
    """man/*.N in /usr/share/man/manN, plain or compressed by rpmbuild."""
    package, root = installed
    listed = subprocess.run(["rpm", "-qlp", package], stdout=subprocess.PIPE, timeout=60).stdout.decode().split()
    pages = sorted(os.listdir(os.path.join(ROOT, "man")))
    assert "sm-clusterstack.1" in pages and "xapi-cluster-stack.7" in pages, pages
    for name in pages:
        path = "/usr/share/man/man%s/%s" % (name.rpartition(".")[2], name)
        found = [p for p in (path, path + ".gz") if p in listed]
        assert found and os.path.isfile(root + found[0]), path
