import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_runner import FakeRunner  # noqa: E402


@pytest.fixture
def fake_runner():
    runner = FakeRunner()
    yield runner
    runner.assert_done()


@pytest.fixture
def ctx(tmp_path):
    """A shim context over a fresh two-host store, with every method loaded (no server)."""
    from sm_clusterstack.xapi import methods
    from sm_clusterstack.xapi.rpc import context
    pool = context.Pool(str(tmp_path / "state"), str(tmp_path / "sm"), str(tmp_path / "stacks"), "pw")
    context.initialise(pool.store, 2)
    methods.load()
    yield pool
    pool.store.close()
