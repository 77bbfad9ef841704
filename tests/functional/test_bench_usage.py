"""The benchmarks configured by environment variables refuse arguments before they start anything."""

import os
import subprocess
import sys

import pytest

from helpers import REPO

BENCHES = ["driver_startup", "enable_ha_scale", "failure_detection", "plug_check_scale", "xapi_rpc"]


def run(name, *args):
    return subprocess.run([sys.executable, os.path.join(REPO, "bench", name)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


@pytest.mark.parametrize("name", BENCHES)
def test_help_prints_the_benchmarks_settings_and_runs_nothing(name):
    done = run(name, "--help")
    assert done.returncode == 0 and done.stderr == ""
    with open(os.path.join(REPO, "bench", name)) as f:
        source = f.read()
    first_line = source.split('"""')[1].strip().splitlines()[0]
    assert done.stdout.splitlines()[0] == first_line


@pytest.mark.parametrize("name", BENCHES)
def test_an_unknown_argument_is_refused_with_2_before_anything_runs(name):
    done = run(name, "--sizes", "3")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "%s: takes no arguments (--sizes 3); its settings are environment variables, see %s " \
                          "--help\n" % (name, name)
