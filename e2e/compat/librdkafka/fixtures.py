"""Pytest fixtures shared by the librdkafka and kcat suites (imported by their conftest.py)."""

import uuid

import pytest

from tributary_broker import BrokerProcess, keep_log_on_failure, start_broker

# Retention runs often so the retention tests see segments go within seconds.
SHARED_OVERRIDES = {"log.retention.check.interval.ms": "200"}


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest):
    b = start_broker(SHARED_OVERRIDES)
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
