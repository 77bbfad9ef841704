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
