"""The kit's entry points: check one stack, one driver, or everything installed."""

import os
import typing

from sm_clusterstack import stacks
from sm_clusterstack.kit import result as res
from sm_clusterstack.kit import driver_badinput, driver_static, stack_live, stack_static


class Options(object):
    """How the kit runs: timeouts, ownership expected, extra environment, driver settings."""

    def __init__(
            self,
            timeout: float = stack_live.SCRIPT_TIMEOUT,
            start_timeout: float = stack_live.START_TIMEOUT,
            owner_uid: int = 0,
            stack_env: typing.Optional[typing.Dict[str, str]] = None,
            device_config: typing.Optional[typing.Dict[str, str]] = None,
            scratch_device: bool = False,
            live: bool = True,
            sandbox_parent: typing.Optional[str] = None,
    ) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.owner_uid = owner_uid
        self.stack_env = dict(stack_env or {})
        self.device_config = dict(device_config or {})
        self.scratch_device = scratch_device
        self.live = live
        self.sandbox_parent = sandbox_parent  # where sandboxes go (default: the temp dir)


def check_stack(path: str, options: typing.Optional[Options] = None) -> res.Suite:
    """Every check of the cluster-stack directory at ``path``."""
    options = options or Options()
    path = os.path.abspath(path)
    suite = res.Suite("stack", os.path.basename(os.path.normpath(path)), path)
    stack_static.run(suite, path, options.owner_uid)
    if options.live:
        unsafe = suite.get(stack_static.UNSAFE).result != res.PASS
        stack_live.run(suite, path, options.timeout, options.start_timeout, options.owner_uid,
                       unsafe=unsafe, extra_env=options.stack_env, sandbox_parent=options.sandbox_parent)
    return suite


def check_driver(path: str, options: typing.Optional[Options] = None) -> res.Suite:
    """Every check of the SMAPIv1 driver executable at ``path``."""
    options = options or Options()
    path = os.path.abspath(path)
    suite = res.Suite("driver", os.path.basename(path), path)
    info, valid = driver_static.run(suite, path)
    if suite.get(driver_static.EXECUTABLE).result != res.PASS:
        suite.add(driver_badinput.BAD_INPUT, res.SKIP, "not run: %s failed" % driver_static.EXECUTABLE)
        return suite
    keys = [c.get("key", "") for c in (info or {}).get("configuration", []) if isinstance(c, dict)]
    keys = [k for k in keys if isinstance(k, str) and k.strip()]
    driver_badinput.run(suite, path, keys or ["device"], driver_static.unreachable_pool())
    return suite


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


def check_all(stack_paths: typing.Sequence[str], driver_paths: typing.Sequence[str],
              options: typing.Optional[Options] = None) -> typing.List[res.Suite]:
    """The suites of every driver then every stack named."""
    return ([check_driver(p, options) for p in driver_paths]
            + [check_stack(p, options) for p in stack_paths])
