"""Pytest fixtures and hooks shared by the librdkafka and kcat suites (imported by their conftest.py).

TRIBUTARY_COMPAT_NODES=3 runs the suite against a cluster of three combined nodes instead of one broker: the shared
`broker` fixture is then the cluster (clients get all three bootstrap addresses), and every test runs on it but those
marked `one_node`; the tests marked `cluster_only` (assertions about how work spreads over the brokers) run only there.
TRIBUTARY_COMPAT_RF sets the replication factor of the cluster's topics (tributary_broker.replication_factor).
docs/compat.md says which tests run on three nodes.
"""

import uuid

import pytest

from tributary_broker import cluster_size, keep_log_on_failure, start_broker, start_cluster

# Retention runs often so the retention tests see segments go within seconds.
SHARED_OVERRIDES = {"log.retention.check.interval.ms": "200"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "one_node(reason): runs only on one broker, not on a cluster")
    config.addinivalue_line("markers", "cluster_only: runs only on a cluster (TRIBUTARY_COMPAT_NODES > 1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_cluster = cluster_size() > 1

    def wanted(item: pytest.Item) -> bool:
        if on_cluster:
            return item.get_closest_marker("one_node") is None
        return item.get_closest_marker("cluster_only") is None

    keep = [i for i in items if wanted(i)]
    dropped = [i for i in items if not wanted(i)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest):
    nodes = cluster_size()
    b = start_cluster(nodes, SHARED_OVERRIDES) if nodes > 1 else start_broker(SHARED_OVERRIDES)
    failed_before = request.session.testsfailed
    yield b
    keep_log_on_failure(b, request.session.testsfailed > failed_before)
    b.destroy()


@pytest.fixture
def restartable(request: pytest.FixtureRequest):
    """For tests that stop and restart the broker leading a partition (restart_leader_of): on one broker a broker of
    the test's own, so the shared one keeps running; on a cluster the shared cluster, whose node leading the partition
    goes down and comes back while the others keep serving (the harness waits until it is back before answering)."""
    if cluster_size() > 1:
        yield request.getfixturevalue("broker")
        return
    b = start_broker(SHARED_OVERRIDES)
    failed_before = request.session.testsfailed
    yield b
    keep_log_on_failure(b, request.session.testsfailed > failed_before)
    b.destroy()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
    return f"{base}-{uuid.uuid4().hex[:8]}"
