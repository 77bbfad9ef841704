"""What enable_ha and disable_ha share: one HA operation at a time, progress, parallel steps, stack calls.

One HA operation at a time: ``pool.ha_operation`` names the one running
(HA_ENABLE_IN_PROGRESS / HA_DISABLE_IN_PROGRESS to anyone else, as xapi's
pool current_operations); a plan or journal left by a crash counts as
running until recovery finishes it.
"""

import concurrent.futures
import logging
import typing

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import records
from sm_clusterstack.xapi.ha import progress
from sm_clusterstack.xapi.hosts import onhost

LOG = logging.getLogger("sm_clusterstack.xapi")
IN_PROGRESS = {"enable": errors.HA_ENABLE_IN_PROGRESS, "disable": errors.HA_DISABLE_IN_PROGRESS}


def report(step: str, fraction: float) -> None:
    LOG.info("HA: %s", step)
    progress.report(step, fraction)


def begin(conn, operation: str) -> typing.Any:
    """Claim the pool for ``operation``; its row (HA_*_IN_PROGRESS if another runs or was left half-done)."""
    running = records.running_ha_operation(conn)
    if running:
        raise XenAPIError(IN_PROGRESS[running])
    records.set_pool(conn, ha_operation=operation)
    return records.pool_row(conn)


def end(ctx) -> None:
    with ctx.store.write() as conn:
        records.set_pool(conn, ha_operation="")


def in_parallel(fn: typing.Callable[[typing.Any], None], hosts: typing.List[typing.Any]
                ) -> typing.List[typing.Tuple[typing.Any, BaseException]]:
    """Run ``fn(host)`` for every host at once (``thread_iter_all_exns``); the (host, error) pairs."""
    if not hosts:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        futures = [(host, pool.submit(fn, host)) for host in hosts]
        failed = []
        for host, future in futures:
            error = future.exception()
            if error is not None:
                failed.append((host, error))
    return failed


def propose_master_or_fail(ctx, host: str, stack: str) -> None:
    """``ha_propose_master`` on the master during enable: INTERNAL_ERROR unless it answers TRUE (``join_liveset``)."""
    if not onhost.stack_on(ctx, host, stack).propose_master():
        raise XenAPIError(errors.INTERNAL_ERROR, "failed to propose the current master as master")
