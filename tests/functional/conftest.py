"""Fixtures shared by the functional tests."""

import pytest

from corosync_netns import Cluster, skip_reason


@pytest.fixture
def cluster(tmp_path):
    """Three corosync hosts as network namespaces; skipped (with the reason) where that cannot be."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    built = Cluster(tmp_path)
    try:
        built.build()
        yield built
    finally:
        built.teardown()
