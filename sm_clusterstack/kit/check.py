"""The kit's entry points: check one stack, one driver, or everything installed."""

import os
import shutil
import sys
import tempfile
import typing
import uuid

from sm_clusterstack import hostsandbox, stacks
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import devices, driver_badinput, driver_pool, driver_static, stack_live, stack_static
from sm_clusterstack.kit.hostpool import HostPoolError, KitHosts
from sm_clusterstack.kit.pool import EmbeddedPool
from sm_clusterstack.kit.stack_leave import MARGIN
from sm_clusterstack.kit.stack_probe import SCRIPT_TIMEOUT, START_TIMEOUT, StackProbe

HOSTS = 2  # hosts of the pool a stack runs on: the multi-host checks need two
HA_TIMEOUT = 20  # seconds: xapi's configuration["timeout"] for the stack runs (xapi's default 60, minimum 10)


class Options(object):
    """How the kit runs: timeouts, ownership expected, the stack's pool, driver settings."""

    def __init__(
            self,
            timeout: float = SCRIPT_TIMEOUT,
            start_timeout: float = START_TIMEOUT,
            owner_uid: int = 0,
            device_config: typing.Optional[typing.Dict[str, str]] = None,
            scratch_device: bool = False,
            live: bool = True,
            sandbox_parent: typing.Optional[str] = None,
            driver_timeout: float = 120.0,
            listener: typing.Optional[res.Listener] = None,
            hosts: int = HOSTS,
            ha_timeout: int = HA_TIMEOUT,
            host_paths: typing.Optional[typing.Dict[str, str]] = None,
            sandbox_prefix: str = "",
            ipv6: bool = False,
            emulate_storage: bool = False,
            error_table: str = "",
    ) -> None:
        self.timeout = timeout
        self.emulate_storage = emulate_storage  # the driver checks' pool emulates what the kernel lacks
        self.ipv6 = ipv6  # the stack's hosts have IPv6-only management addresses
        self.error_table = error_table  # the driver's SM error table ("": XE_SR_ERRORCODES.xml beside it, else ours)
        self.start_timeout = start_timeout
        self.owner_uid = owner_uid
        self.device_config = dict(device_config or {})
        self.scratch_device = scratch_device
        self.live = live
        self.sandbox_parent = sandbox_parent  # where sandboxes go (default: the temp dir)
        self.driver_timeout = driver_timeout  # seconds per driver call on the embedded pool
        self.listener = listener  # hears each suite start and each result (progress)
        self.hosts = hosts  # how many sandboxed hosts a stack runs on
        self.ha_timeout = ha_timeout  # xhad.conf's parameters derive from it, as xapi's
        self.host_paths = dict(host_paths or {})  # INSIDE -> LOCAL laid on every host
        self.sandbox_prefix = sandbox_prefix  # namespace names start with it ("": from the state dir)


def interpreter_first_on_path() -> None:
    """Put the kit's interpreter directory first on this process's PATH.

    Drivers and scripts starting ``#!/usr/bin/env python3`` then run on the
    Python the kit and the project's library are installed in (as under
    ``make run``), whether the kit runs them or the embedded pool does.
    """
    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", os.defpath)
    if path.split(os.pathsep)[0] != here:
        os.environ["PATH"] = os.pathsep.join([here, path])


def check_stack(path: str, options: typing.Optional[Options] = None) -> res.Suite:
    """Every check of the cluster-stack directory at ``path``."""
    options = options or Options()
    interpreter_first_on_path()
    path = os.path.abspath(path)
    suite = res.Suite("stack", os.path.basename(os.path.normpath(path)), path, options.listener)
    stack_static.run(suite, path, options.owner_uid)
    if not options.live:
        return suite
    if suite.get(stack_static.UNSAFE).result != res.PASS:
        stack_live.skip_all(suite, "not run: the stack is unsafe (see stack.unsafe) and xapi would not run it")
        return suite
    _live_stack(suite, path, options)
    return suite


def _live_stack(suite: res.Suite, path: str, options: Options) -> None:
    state = tempfile.mkdtemp(prefix="sm-clusterstack-kit-stack-", dir=options.sandbox_parent)
    prefix = options.sandbox_prefix or hostsandbox.default_prefix(state)
    hosts = KitHosts(state, options.hosts, prefix, path, options.ha_timeout, options.host_paths, options.ipv6)
    try:
        hosts.create()
    except HostPoolError as e:
        stack_live.skip_all(suite, "not run: the kit cannot make its %d host sandbox(es) here: %s" % (
            options.hosts, e))
        shutil.rmtree(state, ignore_errors=True)
        return
    start = max(options.start_timeout, hosts.parameters["EnableJoinTimeout"] + MARGIN)
    try:
        stack_live.run(suite, StackProbe(suite, hosts, options.timeout, start, options.owner_uid))
    finally:
        failed = hosts.teardown()
        if failed:
            suite.add("kit.teardown", res.ERROR, "the kit could not remove: %s" % "; ".join(failed))
        else:
            shutil.rmtree(state, ignore_errors=True)


def check_driver(path: str, options: typing.Optional[Options] = None) -> res.Suite:
    """Every check of the SMAPIv1 driver executable at ``path``."""
    options = options or Options()
    interpreter_first_on_path()
    path = os.path.abspath(path)
    suite = res.Suite("driver", os.path.basename(path), path, options.listener)
    info, valid = driver_static.run(suite, path, options.timeout)
    if suite.get(driver_static.EXECUTABLE).result != res.PASS:
        suite.add(driver_badinput.BAD_INPUT, res.SKIP, "not run: %s failed" % driver_static.EXECUTABLE)
        return suite
    keys = [c.get("key", "") for c in (info or {}).get("configuration", []) if isinstance(c, dict)]
    keys = [k for k in keys if isinstance(k, str) and k.strip()] or ["device"]
    if options.live and valid:
        _pool_checks(suite, path, info, keys, options)  # bad-input first, its device_config cases on the pool
        return suite
    _bad_input(suite, path, keys, options)
    if options.live:
        for check in driver_pool.CHECKS:
            suite.add(check, res.SKIP, "not run: needs a valid sr_get_driver_info (see above)")
    return suite


def _bad_input(suite: res.Suite, path: str, keys: typing.List[str], options: Options,
               reach: typing.Optional[driver_badinput.Reach] = None) -> None:
    driver_badinput.run(suite, path, keys, driver_static.unreachable_pool(), options.timeout, reach)


def _reach(pool: EmbeddedPool, sr_type: str, config: typing.Dict[str, str]) -> typing.Optional[driver_badinput.Reach]:
    """The device_config cases sent as xapi sends a call: the pool's session and host, an SR of the driver's type."""
    try:
        sr_uuid = str(uuid.uuid4())
        sr = pool.api.SR.introduce(sr_uuid, "kit bad-input SR", "", sr_type, "", True, {})
        members = {"host_ref": pool.host(), "session_ref": pool.session_ref, "sr_ref": sr, "sr_uuid": sr_uuid}
    except Exception:  # the pool checks report what is wrong with the pool; the cases then run without it
        return None
    return driver_badinput.Reach(pool.run_driver, members, config,
                                 "on the embedded pool (its session, this host and an SR of type %s, as xapi "
                                 "calls a driver)" % sr_type)


def _pool_checks(suite: res.Suite, path: str, info: dict, keys: typing.List[str], options: Options) -> None:
    required = list(info.get("required_cluster_stack", []))
    pool = EmbeddedPool(path, required, options.sandbox_parent, driver_timeout=options.driver_timeout,
                        emulate_storage=options.emulate_storage)
    scratch = None
    try:
        if options.scratch_device:
            scratch = devices.ScratchDevice(pool.path)
        config = devices.device_config(keys, options.device_config, pool.path, scratch)
        pool.start()
    except Exception as e:
        _bad_input(suite, path, keys, options)
        for check in driver_pool.CHECKS:
            suite.add(check, res.ERROR, "kit error: cannot start the embedded pool: %s" % (e,))
        _close(pool, scratch)
        return
    try:
        _bad_input(suite, path, keys, options, _reach(pool, driver_static.sr_type(path), config))
        driver_pool.run(suite, pool, driver_static.sr_type(path), required, config, options.error_table)
    finally:
        _close(pool, scratch)


def _close(pool: EmbeddedPool, scratch: typing.Optional[devices.ScratchDevice]) -> None:
    pool.close()
    if scratch is not None:
        scratch.detach()


def stack_dirs(root: str) -> typing.List[str]:
    """The stack directories under ``root``, as xapi would find them."""
    return [os.path.join(root, name) for name in stacks.installed_stacks(root)]


def driver_paths(sm_dir: str) -> typing.List[str]:
    """The SR driver executables of ``sm_dir``: names ending in SR, as xapi scans them."""
    try:
        names = sorted(os.listdir(sm_dir))
    except OSError:
        return []
    return [os.path.join(sm_dir, n) for n in names
            if n.endswith("SR") and os.path.isfile(os.path.join(sm_dir, n))]


STACK, DRIVER = "stack", "driver"


def check_targets(targets: typing.Sequence[typing.Tuple[str, str]],
                  options: typing.Optional[Options] = None) -> typing.List[res.Suite]:
    """The suites of ``targets`` ((``stack``|``driver``, path) pairs), in the order given."""
    return [check_driver(path, options) if kind == DRIVER else check_stack(path, options)
            for kind, path in targets]


def installed_targets(root: str, sm_dir: str) -> typing.List[typing.Tuple[str, str]]:
    """Every driver of ``sm_dir`` then every stack of ``root``, as xapi would find them."""
    return [(DRIVER, p) for p in driver_paths(sm_dir)] + [(STACK, p) for p in stack_dirs(root)]
