"""The quick starts run verbatim: every ``console`` block of the page, its commands in one shell, its output compared.

A block's lines starting ``$ `` are commands (a line ending in ``\\``
continues on the next); the lines after a command, up to the next one, are
what it prints (stdout and stderr), where ``<UUID>`` matches a uuid,
``<...>`` the rest of a line and a line ``...`` any number of lines.  The
commands of all blocks run in one bash, in the repository, with HOME a
directory of the test's own (the page's ``~/pool``, its disk image and
log), so the pool's sandboxes are named after it (``hostsandbox.default_prefix``).
Whatever the page leaves behind when a command fails is removed after.
"""

import os
import re
import signal
import subprocess

import pytest

from helpers import REPO
from sm_clusterstack import hostsandbox
from sm_clusterstack.xapi import service

MARK = "@@quickstart-command-%d@@"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def commands(page):
    """[(command, [expected line, ...])] of every ``console`` block of ``page``, in order."""
    with open(os.path.join(REPO, "docs", page)) as f:
        blocks = re.findall(r"^```console\n(.*?)^```", f.read(), re.M | re.S)
    found = []
    for block in blocks:
        lines = block.splitlines()
        while lines:
            line = lines.pop(0)
            if not line.startswith("$ "):
                found[-1][1].append(line)
                continue
            command = line[2:]
            while command.endswith("\\"):
                command = command + "\n" + lines.pop(0)
            here = re.search(r"<<\s*'?(\w+)'?", command)  # a here-document is part of its command
            while here and lines:
                command += "\n" + lines.pop(0)
                if command.endswith("\n" + here.group(1)):
                    break
            found.append((command, []))
    return found


def line_pattern(expected):
    """The regex of one documented output line."""
    parts = re.split(r"(<UUID>|<\.\.\.>)", expected)
    return "".join(UUID if p == "<UUID>" else ".*" if p == "<...>" else re.escape(p) for p in parts) + r"\Z"


def matches(expected, actual):
    """True when ``actual`` lines are what ``expected`` documents (``...`` lines: any number of lines)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and re.match(line_pattern(expected[0]), actual[0]) is not None \
        and matches(expected[1:], actual[1:])


def script(found):
    """One bash script running every command, each after a marker line; its output merged into stdout."""
    body = ["exec 2>&1"]
    for number, (command, _expected) in enumerate(found):
        body.append("echo %s" % (MARK % number))
        body.append(command)
    return "\n".join(body) + "\n"


def outputs(text, count):
    """Each command's output lines, split at the markers."""
    found = [[] for _ in range(count)]
    current = None
    for line in text.splitlines():
        marker = re.match(r"@@quickstart-command-(\d+)@@\Z", line)
        if marker:
            current = int(marker.group(1))
        elif current is not None:
            found[current].append(line)
    return found


def leftovers(home):
    """Stop a shim the page left serving, remove its sandboxes, detach its loop devices."""
    state = os.path.join(home, "pool")
    pid = service.read_address(state).get("pid") if os.path.isdir(state) else None
    if pid:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except OSError:
            pass
    if os.path.isdir(state):
        hostsandbox.SandboxPool.remove(state)
    image = os.path.join(home, "disk.img")
    if os.path.exists(image):
        loops = subprocess.run(["losetup", "-j", image, "-O", "NAME", "-n"], stdout=subprocess.PIPE,
                               universal_newlines=True, timeout=30).stdout.split()
        for loop in loops:
            subprocess.run(["losetup", "-d", loop], timeout=30)


def stuck(found, output, home, timeout):
    """What a page that ran out of time was doing: its command then, what it printed, the shim's log's end."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else (output or "")
    markers = re.findall(r"^@@quickstart-command-(\d+)@@$", text, re.M)
    at = int(markers[-1]) if markers else 0
    try:
        with open(os.path.join(home, "pool.log"), errors="replace") as f:
            log = f.read().splitlines()[-40:]
    except OSError as e:
        log = ["(no shim log: %s)" % e]
    return "the page ran out of its %d s in command %d, %r; it printed:\n%s\nthe shim's log ends:\n%s" % (
        timeout, at, found[at][0], "\n".join(outputs(text, len(found))[at]), "\n".join(log))


def run_page(page, tmp_path, timeout):
    """Run the page's commands; [(command, expected, actual)] of each."""
    found = commands(page)
    home = str(tmp_path / "home")
    os.makedirs(home, mode=0o700)
    env = {"HOME": home, "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    try:
        proc = subprocess.run(["bash", "-c", script(found)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(stuck(found, e.output, home, timeout)) from None
    finally:
        leftovers(home)
    return [(c, e, a) for (c, e), a in zip(found, outputs(proc.stdout, len(found)))]


def test_the_matcher_reads_placeholders_and_any_lines():
    assert matches(["pool <UUID>: HA <...>", "...", "end"],
                   ["pool 0b5e2a4e-8a1c-4f7e-9d6b-3c2a1b0f9e8d: HA on", "x", "y", "end"])
    assert not matches(["true,true,true"], ["true,false,true"])
    assert not matches(["host1"], ["host1", "host2"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the page's pool is sandboxed: root only")
@pytest.mark.slow(55)
def test_the_operator_quick_start_runs_as_written(tmp_path):
    """Issue 21: docs/quickstart-operator.md, verbatim: pool, SR, HA, a host failure, recovery, teardown.

    Its HA timeout is 10 s, xapi's smallest (``ocaml/xapi/xapi_ha.ml`` ``Timeouts.derive``: t >= 10).
    """
    ran = run_page("quickstart-operator.md", tmp_path, timeout=480)
    differ = ["$ %s\n  documented: %r\n  printed:    %r" % (c, e, a) for c, e, a in ran if not matches(e, a)]
    assert not differ, "\n".join(differ)


@pytest.mark.skipif(os.geteuid() != 0, reason="the kit's pool is sandboxed: root only")
@pytest.mark.slow(45)
def test_the_vendor_quick_start_runs_as_written(tmp_path):
    """Issue 21: docs/quickstart-vendor.md, verbatim: a driver written from the page, the kit, its JUnit."""
    ran = run_page("quickstart-vendor.md", tmp_path, timeout=300)
    differ = ["$ %s\n  documented: %r\n  printed:    %r" % (c, e, a) for c, e, a in ran if not matches(e, a)]
    assert not differ, "\n".join(differ)
