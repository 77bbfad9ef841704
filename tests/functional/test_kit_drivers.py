"""The kit's driver checks against fixture drivers, with the embedded pool (the shim in-process).

Each fault fixture must fail the check that names its fault and no other;
what the kit could not observe is SKIP, never PASS.  ``stocksm`` is a
stock-style SRCommand library written after xapi-project/sm's behaviour:
its drivers reach the pool only where stock drivers look (the session on
/var/lib/xcp/xapi, the host in /etc/xensource-inventory).
"""

import os
import shutil

import pytest

from sm_clusterstack.kit import check, driver_badinput, driver_pool, driver_static, report
from sm_clusterstack.kit import result as res

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kit", "drivers")
STOCK = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kit", "stocksm")
STOCK_LIBRARY = ("SRCommand.py", "SR.py", "util.py", "xs_errors.py")
ALL_IDS = list(driver_static.CHECKS) + [driver_badinput.BAD_INPUT] + list(driver_pool.CHECKS)
pytestmark = pytest.mark.slow(3)  # each check runs the kit's embedded pool: a shim and its host sandboxes


def install(tmp_path, name):
    """Copy the fixture driver ``name`` (and its module) into a private sm-dir, executable."""
    sm_dir = tmp_path / "sm"
    sm_dir.mkdir(exist_ok=True)
    for entry in (name, "kitfixture.py"):
        shutil.copy(os.path.join(FIXTURES, entry), str(sm_dir / entry))
    os.chmod(str(sm_dir / name), 0o755)
    return str(sm_dir / name)


def install_variant(tmp_path, fault):
    """GoodSR with one of kitfixture's faults (or variants) switched on."""
    path = install(tmp_path, "GoodSR")
    with open(path) as f:
        text = f.read().replace("kitfixture.main()", 'kitfixture.main("%s")' % fault)
    with open(path, "w") as f:
        f.write(text)
    return path


def install_stock(tmp_path, name, error_table=True):
    """A stock-style driver and its SRCommand library in a private sm-dir (the error table left out if asked)."""
    sm_dir = tmp_path / "sm"
    sm_dir.mkdir(exist_ok=True)
    for entry in STOCK_LIBRARY + (name,) + (("XE_SR_ERRORCODES.xml",) if error_table else ()):
        shutil.copy(os.path.join(STOCK, entry), str(sm_dir / entry))
    os.chmod(str(sm_dir / name), 0o755)
    return str(sm_dir / name)


def kit(tmp_path, path, **options):
    sr_dir = tmp_path / "srdir"
    sr_dir.mkdir(exist_ok=True)
    options.setdefault("timeout", 10.0)
    options.setdefault("device_config", {"path": str(sr_dir)})
    opts = check.Options(sandbox_parent=str(tmp_path), **options)
    suite = check.check_driver(path, opts)
    print(report.table([suite]))
    return suite


def test_conforming_fixture_driver_passes_every_check(tmp_path):
    suite = kit(tmp_path, install(tmp_path, "GoodSR"))
    assert [r.check for r in suite.results] == ALL_IDS
    assert {r.result for r in suite.results} == {res.PASS}
    assert "INCOMPATIBLE_CLUSTER_STACK_ACTIVE 'corosync'" in suite.get(driver_pool.ATTACH_EXCLUSION).detail
    assert suite.get(driver_pool.ATTACH_COMPATIBLE).detail.startswith("attached: ")


@pytest.mark.parametrize("name,failing,explained", [
    ("TracebackSR", [driver_badinput.BAD_INPUT], "traceback"),
    ("BadconfigSR", [driver_static.CONFIGURATION], "documented twice"),
    ("BadstackSR", [driver_static.REQUIRED_CLUSTER_STACK], "'../corosync' is not a valid"),
    ("AttachanywaySR", [driver_pool.ATTACH_EXCLUSION], "attached under an incompatible stack"),
    ("InfofaultSR", [driver_static.INFO], "cannot read my own configuration"),
    ("NovendorSR", [driver_static.INFO_MEMBER], "member vendor is missing"),
    ("RefusealwaysSR", [driver_pool.ATTACH_COMPATIBLE], "refused under a compatible stack"),
    ("ScanfailsSR", [driver_pool.SM_RECORD], "cannot answer when a pool runs me"),
    ("RefusemelioSR", [driver_pool.ATTACH_COMPATIBLE], "refused under a compatible stack (melio)"),
])
def test_fault_fixture_fails_only_the_check_naming_its_fault(tmp_path, name, failing, explained):
    suite = kit(tmp_path, install(tmp_path, name))
    assert suite.failing() == failing
    assert explained in suite.get(failing[0]).detail


def test_a_stub_answering_not_implemented_to_everything_does_not_pass(tmp_path):
    suite = kit(tmp_path, install(tmp_path, "StubSR"))
    assert suite.failing() == [driver_badinput.BAD_INPUT, driver_pool.ATTACH_COMPATIBLE]
    assert "the same fault 38 'not implemented'" in suite.get(driver_badinput.BAD_INPUT).detail
    assert "sr_attach is not implemented" in suite.get(driver_pool.ATTACH_COMPATIBLE).detail


def test_missing_required_cluster_stack_is_a_warning_saying_how_a_stock_driver_declares_it(tmp_path):
    suite = kit(tmp_path, install(tmp_path, "NoclusterstackSR"))
    found = suite.get(driver_static.REQUIRED_CLUSTER_STACK)
    assert found.result == res.WARN and "xapi takes it as []" in found.detail
    assert "sm's util.sr_get_driver_info copies a fixed list of keys" in found.detail
    # this fixture checks for corosync without declaring it: as xapi sees it, it refuses a stack it allows
    assert suite.failing() == [driver_pool.ATTACH_COMPATIBLE]


def test_a_stock_style_srcommand_driver_reaches_the_pool_where_stock_drivers_look(tmp_path):
    """Its sr_attach asks the pool (socket /var/lib/xcp/xapi) for the host its inventory names."""
    suite = kit(tmp_path, install_stock(tmp_path, "DirSR"))
    assert suite.failing() == []
    assert suite.get(driver_static.REQUIRED_CLUSTER_STACK).result == res.WARN
    assert suite.get(driver_pool.SM_RECORD).detail.endswith("required_cluster_stack []")
    assert suite.get(driver_pool.ATTACH_COMPATIBLE).detail == (
        "attached: HA on xhad: sr_attach and PBD.plug both attached")


def test_a_driver_that_cannot_build_its_errors_does_not_pass(tmp_path):
    suite = kit(tmp_path, install_stock(tmp_path, "DirSR", error_table=False))
    assert suite.failing() == [driver_badinput.BAD_INPUT]
    assert "cannot build its errors" in suite.get(driver_badinput.BAD_INPUT).detail


def test_attach_answering_1200_errno_2_is_not_observed_so_skipped(tmp_path):
    """sm's SMGeneral 1200 '[Errno 2] ...': the driver died before deciding anything; never a PASS."""
    suite = kit(tmp_path, install_stock(tmp_path, "ErrnoSR"))
    found = suite.get(driver_pool.ATTACH_COMPATIBLE)
    assert found.result == res.SKIP and "[Errno 2]" in found.detail and "could not observe" in found.detail


def test_attach_compatible_tries_every_declared_stack(tmp_path):
    detail = kit(tmp_path, install(tmp_path, "RefusemelioSR")).get(driver_pool.ATTACH_COMPATIBLE).detail
    assert "HA on corosync: sr_attach and PBD.plug both attached" in detail
    assert "HA on melio: sr_attach and PBD.plug both answered INCOMPATIBLE_CLUSTER_STACK_ACTIVE" in detail


def test_invalid_driver_info_skips_the_pool_checks(tmp_path):
    suite = kit(tmp_path, install(tmp_path, "BadstackSR"))
    assert [suite.get(c).result for c in driver_pool.CHECKS] == [res.SKIP] * len(driver_pool.CHECKS)


def test_driver_without_constraint_makes_exclusion_not_applicable(tmp_path):
    suite = kit(tmp_path, install_variant(tmp_path, "no-constraint"))
    assert suite.failing() == []
    assert suite.get(driver_pool.ATTACH_EXCLUSION).result == res.SKIP
    assert "not applicable" in suite.get(driver_pool.ATTACH_EXCLUSION).detail
    assert "HA on xhad" in suite.get(driver_pool.ATTACH_COMPATIBLE).detail


def test_non_executable_driver_fails_and_skips_the_rest(tmp_path):
    path = install(tmp_path, "GoodSR")
    os.chmod(path, 0o644)
    suite = kit(tmp_path, path)
    assert suite.failing() == [driver_static.EXECUTABLE]
    assert all(r.result == res.SKIP for r in suite.results[1:])


def test_static_mode_starts_no_pool(tmp_path):
    suite = kit(tmp_path, install(tmp_path, "GoodSR"), live=False)
    assert [r.check for r in suite.results] == list(driver_static.CHECKS) + [driver_badinput.BAD_INPUT]


def test_pool_sandbox_is_removed(tmp_path):
    kit(tmp_path, install(tmp_path, "AttachanywaySR"))
    assert [p for p in os.listdir(str(tmp_path)) if p.startswith("sm-clusterstack-kit")] == []


def test_hanging_driver_is_killed_and_the_kit_gives_up_on_bad_input(tmp_path):
    path = install(tmp_path, "GoodSR")
    with open(path, "w") as f:
        f.write('#!/bin/sh\ncase "$1" in *sr_get_driver_info*) exec "$(dirname "$0")/real" "$@" ;; esac\n'
                'exec sleep 1000\n')
    shutil.copy(os.path.join(FIXTURES, "GoodSR"), os.path.join(os.path.dirname(path), "real"))
    os.chmod(os.path.join(os.path.dirname(path), "real"), 0o755)
    suite = kit(tmp_path, path, live=False, timeout=1.0)
    assert suite.failing() == [driver_badinput.BAD_INPUT]
    assert "timed out" in suite.get(driver_badinput.BAD_INPUT).detail
    assert "gave up after" in suite.get(driver_badinput.BAD_INPUT).detail


def test_scratch_device_is_a_loop_device_given_as_device_and_detached(tmp_path):
    from sm_clusterstack import runner
    from sm_clusterstack.kit import devices
    try:
        scratch = devices.ScratchDevice(str(tmp_path))
    except OSError as e:
        pytest.skip("this machine cannot set up a loop device: %s" % e)
    try:
        config = devices.device_config(["device", "path"], {"path": "/srv"}, str(tmp_path), scratch)
        assert config == {"device": scratch.device, "path": "/srv"}
        assert scratch.backing in runner.run(["losetup", "-j", scratch.backing], timeout=30).stdout
    finally:
        scratch.detach()
    assert runner.run(["losetup", "-j", scratch.backing], timeout=30).stdout.strip() == ""


def test_device_placeholder_only_for_an_undocumented_given_device(tmp_path):
    from sm_clusterstack.kit import devices
    assert devices.device_config(["path"], {}, str(tmp_path)) == {}
    config = devices.device_config(["device", "port"], {}, str(tmp_path))
    assert list(config) == ["device"] and os.path.getsize(config["device"]) == devices.SCRATCH_SIZE
    assert devices.device_config(["device"], {"device": "/dev/sdz"}, str(tmp_path)) == {"device": "/dev/sdz"}


def test_a_driver_answering_fault_1_to_everything_does_not_pass_attach_compatible(tmp_path):
    """Fault 1 is in no error table (sm's ``xs_errors.XenError`` answers 1 for a key its table lacks): the
    kit saw neither an attach nor a storage fault the driver's table names."""
    suite = kit(tmp_path, install(tmp_path, "UnimplementedSR"))
    found = suite.get(driver_pool.ATTACH_COMPATIBLE)
    assert found.result == res.FAIL
    assert "SR_BACKEND_FAILURE_1" in found.detail and "sm_errorcodes.xml" in found.detail
    assert "does not name" in found.detail


def test_a_storage_fault_named_by_the_drivers_own_error_table_passes_attach_compatible(tmp_path):
    """DirSR's table (XE_SR_ERRORCODES.xml beside it, as stock sm keeps it) names 47 SRUnavailable."""
    suite = kit(tmp_path, install_stock(tmp_path, "DirSR"), device_config={"path": str(tmp_path / "absent")})
    found = suite.get(driver_pool.ATTACH_COMPATIBLE)
    assert found.result == res.PASS, found.detail
    assert "SR_BACKEND_FAILURE_47" in found.detail and "XE_SR_ERRORCODES.xml" in found.detail


def test_device_config_cases_reach_a_driver_that_asks_the_pool_first(tmp_path):
    """NocheckSR asks the pool who it is before it reads device_config, and checks no value: run as xapi runs
    it (a session, this host, the SR), its bad-input cases reach the key and '../..' is taken."""
    suite = kit(tmp_path, install_stock(tmp_path, "NocheckSR"), device_config={})
    found = suite.get(driver_badinput.BAD_INPUT)
    assert found.result == res.FAIL
    assert "device-path-traversal: answered a value, not a fault" in found.detail
    assert "sent sr_attach(device_config={'device': '../../../../etc/passwd'})" in found.detail
    assert "rule: " in found.detail


def test_a_bad_input_failure_shows_the_call_sent_and_the_rule(tmp_path):
    """command-differs: xapi writes call.cmd as both methodName and command (sm_exec.ml xmlrpc_of_call)."""
    suite = kit(tmp_path, install_variant(tmp_path, "command-unchecked"), live=False)
    found = suite.get(driver_badinput.BAD_INPUT)
    assert found.result == res.FAIL
    assert "command-differs: answered a value, not a fault; sent sr_attach(command='sr_delete')" in found.detail
    assert "rule: the methodName must equal the struct's command" in found.detail
