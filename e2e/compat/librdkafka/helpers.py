"""Client-side helpers for the librdkafka (confluent-kafka) suite."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tributary_broker import poll_until, replication_factor


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
    a = admin(bootstrap)
    futures = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor(), config=config or {})],
        operation_timeout=10,
        request_timeout=15,
    )
    futures[name].result(timeout=20)
    wait_partitions_served(bootstrap, name, partitions)


def wait_partitions_served(bootstrap: str, topic: str, partitions: int) -> None:
    """Waits until every broker of the bootstrap list lists every partition with a leader, and each leader answers
    ListOffsets for it. On a cluster a broker learns of a new topic, and of the partitions it leads, when it applies the
    controller's records: until then it does not list the topic, or refuses it (and drops acks=0 records), as Kafka's
    brokers do; Kafka's own integration tests wait for the same after creating a topic."""
    # One client per broker: before it has connected elsewhere, a client asks its bootstrap broker for metadata.
    addresses = bootstrap.split(",")
    clients = [Consumer({"bootstrap.servers": address, "group.id": "unused-readiness"}) for address in addresses]

    def listed(c: Consumer) -> bool:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        ok = md is not None and md.error is None and len(md.partitions) == partitions
        return ok and all(p.leader >= 0 for p in md.partitions.values())

    def served() -> bool:
        if not all(listed(c) for c in clients):
            return False
        try:
            for p in range(partitions):
                clients[0].get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
        except KafkaException:
            return False
        return True

    try:
        poll_until(f"every broker to list {topic} and every partition served by its leader", served)
    finally:
        for c in clients:
            c.close()


def produce(
    bootstrap: str,
    topic: str,
    records: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> list[Message]:
    """Produces records (dicts of Producer.produce keyword arguments), flushes, and returns the delivery reports in
    delivery order. Fails on any delivery error."""
    reports: list[Message] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            reports.append(msg)

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **(extra or {})})
    for r in records:
        p.produce(topic, on_delivery=on_delivery, **r)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0, f"{remaining} records not delivered"
    assert not errors, f"delivery errors: {errors}"
    assert len(reports) == len(records)
    return reports


def poll_record(c: Consumer, timeout: float) -> Message | None:
    """One record, or None on timeout or end of partition; any other error fails the test."""
    msg = c.poll(timeout)
    if msg is None:
        return None
    if msg.error():
        if msg.error().code() == KafkaError._PARTITION_EOF:
            return None
        raise AssertionError(f"consume error: {msg.error()}")
    return msg


def consume_partition(
    bootstrap: str, topic: str, partition: int, start: int, count: int, timeout: float = 30.0
) -> list[Message]:
    """Reads count records from one partition starting at offset start (or OFFSET_BEGINNING/OFFSET_END)."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused-assign-only",
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
        }
    )
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            assert time.monotonic() < deadline, f"got {len(out)} of {count} records from {topic}[{partition}]"
            msg = poll_record(c, 0.2)
            if msg is not None:
                out.append(msg)
        return out
    finally:
        c.close()


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-watermarks"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def wait_topic_visible(bootstrap: str, topic: str, partitions: int) -> None:
    a = admin(bootstrap)

    def visible() -> bool:
        md = a.list_topics(topic, timeout=10).topics.get(topic)
        return md is not None and md.error is None and len(md.partitions) == partitions

    poll_until(f"topic {topic} with {partitions} partitions in metadata", visible)
