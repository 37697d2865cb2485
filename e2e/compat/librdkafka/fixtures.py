"""Pytest fixtures and hooks shared by the librdkafka and kcat suites (imported by their conftest.py).

TRIBUTARY_COMPAT_NODES=3 runs the suite against a cluster of three combined nodes instead of one broker: the shared
`broker` fixture is then the cluster (clients get all three bootstrap addresses), and only the tests marked `cluster`
(the core that must hold on many nodes) or `cluster_only` (assertions about how work spreads over the brokers) run.
Without it, `cluster_only` tests are deselected. docs/compat.md says which tests run on three nodes and why the others
stay on one.
"""

import uuid

import pytest

from tributary_broker import BrokerProcess, cluster_size, keep_log_on_failure, start_broker, start_cluster

# Retention runs often so the retention tests see segments go within seconds.
SHARED_OVERRIDES = {"log.retention.check.interval.ms": "200"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: part of the core that also runs on a 3-node cluster")
    config.addinivalue_line("markers", "cluster_only: runs only on a cluster (TRIBUTARY_COMPAT_NODES > 1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_cluster = cluster_size() > 1

    def wanted(item: pytest.Item) -> bool:
        if on_cluster:
            return item.get_closest_marker("cluster") is not None or item.get_closest_marker("cluster_only") is not None
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
def own_broker(request: pytest.FixtureRequest):
    """A broker of the test's own, for tests that stop and restart it."""
    brokers: list[BrokerProcess] = []

    def make() -> BrokerProcess:
        b = start_broker(SHARED_OVERRIDES)
        brokers.append(b)
        return b

    failed_before = request.session.testsfailed
    yield make
    for b in brokers:
        keep_log_on_failure(b, request.session.testsfailed > failed_before)
        b.destroy()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
    return f"{base}-{uuid.uuid4().hex[:8]}"
