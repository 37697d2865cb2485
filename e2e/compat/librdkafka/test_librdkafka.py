"""Conformance: unmodified librdkafka (through confluent-kafka from PyPI) against a real Tributary broker process."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    ConsumerGroupState,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from helpers import admin, consume_partition, poll_record, create_topic, produce, wait_topic_visible, watermarks
from tributary_broker import poll_until, replication_factor, system


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    a = admin(bootstrap)
    entries = a.describe_configs([resource])[resource].result(timeout=20)
    return {name: entry.value for name, entry in entries.items()}


def _configs_now(bootstrap: str, topic: str) -> dict[str, str]:
    """The topic's configs, or none while the broker asked does not know the topic yet (a cluster's other brokers
    learn of it when they apply the controller's record)."""
    try:
        return topic_config(bootstrap, topic)
    except KafkaException:
        return {}


def _has(configs: dict[str, str], retention_ms: str, max_message_bytes: str) -> bool:
    return configs.get("retention.ms") == retention_ms and configs.get("max.message.bytes") == max_message_bytes


def test_topic_create_describe_alter_delete(broker, topic_name):
    a = admin(broker.bootstrap)
    create_topic(broker.bootstrap, topic_name, partitions=3, config={"retention.ms": "123456"})
    wait_topic_visible(broker.bootstrap, topic_name, 3)

    # Creating it again is a per-topic error, not a silent success.
    again = a.create_topics([NewTopic(topic_name, 3, replication_factor())], request_timeout=15)[topic_name]
    with pytest.raises(KafkaException) as info:
        again.result(timeout=20)
    assert info.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    # validate_only creates nothing.
    dry = f"{topic_name}-dry"
    a.create_topics([NewTopic(dry, 2, replication_factor())], validate_only=True, request_timeout=15)[dry].result(timeout=20)
    assert dry not in a.list_topics(timeout=10).topics

    poll_until("its configs", lambda: _configs_now(broker.bootstrap, topic_name).get("retention.ms") == "123456")

    resource = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("retention.ms", "654321", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("max.message.bytes", "200000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    a.incremental_alter_configs([resource])[resource].result(timeout=20)
    # On a cluster the change reaches each broker when it applies the controller's record, and describe_configs may
    # ask another broker than the one that forwarded the change, as with Kafka: poll.
    poll_until("the altered configs", lambda: _has(_configs_now(broker.bootstrap, topic_name), "654321", "200000"))

    # Legacy AlterConfigs replaces the whole set: retention.ms goes back to its default.
    legacy = ConfigResource(ResourceType.TOPIC, topic_name, set_config={"cleanup.policy": "delete"})
    a.alter_configs([legacy])[legacy].result(timeout=20)
    poll_until(
        "retention.ms back to its default",
        lambda: _configs_now(broker.bootstrap, topic_name).get("retention.ms") not in (None, "654321"),
    )

    a.create_partitions([NewPartitions(topic_name, 5)], request_timeout=15)[topic_name].result(timeout=20)
    wait_topic_visible(broker.bootstrap, topic_name, 5)

    a.delete_topics([topic_name], request_timeout=15)[topic_name].result(timeout=20)
    poll_until(f"{topic_name} gone", lambda: topic_name not in a.list_topics(timeout=10).topics)


def test_keyed_produce_same_key_same_partition(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=4)
    keys = [f"key-{i}".encode() for i in range(12)]
    records = [{"key": keys[i % len(keys)], "value": f"v{i}".encode()} for i in range(96)]
    reports = produce(broker.bootstrap, topic_name, records, {"acks": "all"})

    partitions_by_key: dict[bytes, set[int]] = defaultdict(set)
    for r in reports:
        partitions_by_key[r.key()].add(r.partition())
    assert all(len(p) == 1 for p in partitions_by_key.values()), partitions_by_key
    assert len({next(iter(p)) for p in partitions_by_key.values()}) > 1, "every key on one partition"

    # What the broker stored matches what it acknowledged, per partition and offset.
    by_partition: dict[int, list] = defaultdict(list)
    for r in reports:
        by_partition[r.partition()].append(r)
    for partition, acked in by_partition.items():
        stored = consume_partition(broker.bootstrap, topic_name, partition, OFFSET_BEGINNING, len(acked))
        assert [(m.offset(), m.key(), m.value()) for m in stored] == sorted(
            (r.offset(), r.key(), r.value()) for r in acked
        )


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(broker, topic_name, acks):
    create_topic(broker.bootstrap, topic_name)
    values = [f"{acks}-{i}".encode() for i in range(200)]
    reports = produce(broker.bootstrap, topic_name, [{"value": v} for v in values], {"acks": acks})
    if acks == "0":
        # No response, so no offset to report.
        assert all(r.offset() is None or r.offset() < 0 for r in reports)
        poll_until("acks=0 records stored", lambda: watermarks(broker.bootstrap, topic_name)[1] == len(values))
    else:
        assert sorted(r.offset() for r in reports) == list(range(len(values)))
    stored = consume_partition(broker.bootstrap, topic_name, 0, OFFSET_BEGINNING, len(values))
    assert [m.value() for m in stored] == values
    assert watermarks(broker.bootstrap, topic_name) == (0, len(values))


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_codec(broker, topic_name, codec):
    create_topic(broker.bootstrap, topic_name)
    payload = b"tributary compresses well " * 40  # ~1 KiB, highly compressible
    records = [
        {"key": f"k{i}".encode(), "value": payload + str(i).encode(), "headers": [("h", f"x{i}".encode())]}
        for i in range(300)
    ]
    produce(
        broker.bootstrap,
        topic_name,
        records,
        {"compression.type": codec, "linger.ms": 50, "batch.num.messages": 100, "acks": "all"},
    )
    stored = consume_partition(broker.bootstrap, topic_name, 0, OFFSET_BEGINNING, len(records))
    assert [(m.key(), m.value(), m.headers()) for m in stored] == [
        (r["key"], r["value"], [(k, v) for k, v in r["headers"]]) for r in records
    ]
    # The broker keeps batches as produced: compressed on disk unless the codec is none.
    raw = sum(len(r["value"]) for r in records)
    logs = broker.partition_dir(topic_name, 0)
    on_disk = sum(f.stat().st_size for f in logs.glob("*.log"))
    if codec == "none":
        assert on_disk > raw
    else:
        assert on_disk < raw / 4, f"{codec}: {on_disk} bytes on disk for {raw} bytes of values"


def _group_consumer(bootstrap: str, group: str, topic: str, assignor: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "partition.assignment.strategy": assignor,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 300,
        }
    )
    c.subscribe([topic])
    return c


def _poll_all(consumers: list[Consumer], seen: dict[int, list[bytes]]) -> None:
    for c in consumers:
        msg = poll_record(c, 0.05)
        if msg is not None:
            seen[id(c)].append(msg.value())


def _assigned(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_consumer_group_rebalance_commit_resume(broker, topic_name, assignor):
    partitions = 4
    create_topic(broker.bootstrap, topic_name, partitions=partitions)
    first = [{"value": f"a{i}".encode(), "partition": i % partitions} for i in range(40)]
    produce(broker.bootstrap, topic_name, first)
    group = f"group-{topic_name}"
    seen: dict[int, list[bytes]] = defaultdict(list)
    everything = set(range(partitions))

    c1 = _group_consumer(broker.bootstrap, group, topic_name, assignor)
    consumers = [c1]
    c2 = c3 = None
    try:
        poll_until("c1 owns every partition", lambda: (_poll_all(consumers, seen), _assigned(c1) == everything)[1])

        c2 = _group_consumer(broker.bootstrap, group, topic_name, assignor)
        consumers.append(c2)

        def split() -> bool:
            _poll_all(consumers, seen)
            a1, a2 = _assigned(c1), _assigned(c2)
            return len(a1) == 2 and len(a2) == 2 and a1 | a2 == everything

        poll_until("the group to split the partitions 2/2", split)

        def all_consumed() -> bool:
            _poll_all(consumers, seen)
            return {v for vs in seen.values() for v in vs} >= {r["value"] for r in first}

        poll_until("every record consumed by the two members", all_consumed)

        def at_end() -> bool:  # each member has read each partition it owns to the end (10 records each)
            _poll_all(consumers, seen)
            return all(tp.offset == 10 for c in consumers for tp in c.position(c.assignment()))

        poll_until("positions at the end of every owned partition", at_end)
        assert seen[id(c2)], "the second member consumed nothing"
        c1.commit(asynchronous=False)
        c2.commit(asynchronous=False)

        # The second member leaves: the first one gets everything back.
        c2.close()
        consumers.remove(c2)
        poll_until("c1 owns every partition again", lambda: (_poll_all(consumers, seen), _assigned(c1) == everything)[1])
        committed = c1.committed([TopicPartition(topic_name, p) for p in range(partitions)], timeout=10)
        assert sorted((tp.partition, tp.offset) for tp in committed) == [(p, 10) for p in range(partitions)]
        c1.close()
        consumers.remove(c1)

        # A new member of the same group resumes at the committed offsets: it sees only the new records.
        second = [{"value": f"b{i}".encode(), "partition": i % partitions} for i in range(20)]
        produce(broker.bootstrap, topic_name, second)
        c3 = _group_consumer(broker.bootstrap, group, topic_name, assignor)
        consumers.append(c3)
        seen.clear()

        def resumed() -> bool:
            _poll_all(consumers, seen)
            return len(seen[id(c3)]) >= len(second)

        poll_until("the new member to read the new records", resumed)
        assert sorted(seen[id(c3)]) == sorted(r["value"] for r in second)
    finally:
        for c in consumers:
            c.close()


def test_seek_earliest_latest_and_by_timestamp(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    base = int(time.time() * 1000) - 3_600_000
    records = [{"value": f"t{i}".encode(), "timestamp": base + i * 1000} for i in range(30)]
    produce(broker.bootstrap, topic_name, records, {"acks": "all"})

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"seek-{topic_name}", "enable.auto.commit": False})
    try:
        found = c.offsets_for_times(
            [TopicPartition(topic_name, 0, base + 15_000)], timeout=10
        )  # exact match
        assert found[0].offset == 15
        found = c.offsets_for_times([TopicPartition(topic_name, 0, base + 15_500)], timeout=10)  # next record at/after
        assert found[0].offset == 16
        found = c.offsets_for_times([TopicPartition(topic_name, 0, base + 100_000)], timeout=10)  # after the last
        assert found[0].offset == OFFSET_END
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10, cached=False) == (0, 30)
    finally:
        c.close()

    earliest = consume_partition(broker.bootstrap, topic_name, 0, OFFSET_BEGINNING, 1)
    assert (earliest[0].offset(), earliest[0].value(), earliest[0].timestamp()[1]) == (0, b"t0", base)
    by_time = consume_partition(broker.bootstrap, topic_name, 0, 15, 15)
    assert [m.value() for m in by_time] == [f"t{i}".encode() for i in range(15, 30)]

    # Latest: only what is produced after the seek.
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"seek-{topic_name}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        first = poll_until("a record", lambda: c.poll(0.2))
        assert first.offset() == 0
        c.seek(TopicPartition(topic_name, 0, OFFSET_END))

        def at_end() -> bool:
            msg = c.poll(0.2)
            if msg is not None and not msg.error():
                raise AssertionError(f"a record after seeking to the end: offset {msg.offset()}")
            return msg is not None and msg.error().code() == KafkaError._PARTITION_EOF and msg.offset() == 30

        poll_until("end of partition at offset 30 after the seek", at_end)
        produce(broker.bootstrap, topic_name, [{"value": b"after-seek"}])
        msg = poll_until("the record after the seek", lambda: (m := c.poll(0.2)) and not m.error() and m)
        assert (msg.offset(), msg.value()) == (30, b"after-seek")
        c.seek(TopicPartition(topic_name, 0, OFFSET_BEGINNING))
        msg = poll_until("the first record again", lambda: (m := c.poll(0.2)) and not m.error() and m)
        assert (msg.offset(), msg.value()) == (0, b"t0")
    finally:
        c.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_restart_keeps_acknowledged_records_and_committed_offsets(restartable, topic_name, sig):
    # On one broker the broker restarts; on a cluster the node leading partition 0 does, while partition 1's leader (if
    # another node) keeps acknowledging. Under replication factor 1 partition 0 has no leader while its only replica is
    # down, so its records wait in the producer until the node is back; either way none may be lost or duplicated.
    broker = restartable
    create_topic(broker.bootstrap, topic_name, partitions=2)
    group = f"group-{topic_name}"

    # Commit offsets 7 and 3 for the group.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic_name, 0, 7), TopicPartition(topic_name, 1, 3)], asynchronous=False)
    c.close()

    # An idempotent producer keeps writing while the broker goes down; what it got acknowledged must survive.
    acked: list[tuple[int, int, bytes]] = []
    failed: list[KafkaError] = []

    def on_delivery(err, msg):
        if err is not None:
            failed.append(err)
        else:
            acked.append((msg.partition(), msg.offset(), msg.value()))

    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 60000,
            "reconnect.backoff.max.ms": 200,
        }
    )
    total = 2000
    stop_at = 600

    def stop_when_enough() -> bool:
        p.poll(0.01)
        return len(acked) >= stop_at

    for i in range(stop_at):
        p.produce(topic_name, value=f"r{i}".encode(), partition=i % 2, on_delivery=on_delivery)
    poll_until("records acknowledged before the stop", stop_when_enough)
    for i in range(stop_at, total):  # still queued or in flight when the broker stops
        p.produce(topic_name, value=f"r{i}".encode(), partition=i % 2, on_delivery=on_delivery)
    p.poll(0)
    acked_before_stop = list(acked)
    code = broker.restart_leader_of(topic_name, 0, sig)
    if sig == signal.SIGTERM and system() == "tributary":  # our clean shutdown exits 0
        assert code == 0, f"clean shutdown exited with {code}:\n{broker.output()[-4000:]}"
    assert p.flush(60) == 0
    assert not failed, failed
    assert len(acked) == total

    for partition in (0, 1):
        mine = sorted((o, v) for part, o, v in acked if part == partition)
        stored = consume_partition(broker.bootstrap, topic_name, partition, OFFSET_BEGINNING, len(mine))
        stored_pairs = [(m.offset(), m.value()) for m in stored]
        # Every acknowledged record is where it was acknowledged, once (idempotence across the restart).
        assert stored_pairs == mine
        expected_order = [f"r{i}".encode() for i in range(partition, total, 2)]
        assert [v for _, v in stored_pairs] == expected_order
        _, high = watermarks(broker.bootstrap, topic_name, partition)
        assert high == total // 2
    assert {(p_, o) for p_, o, _ in acked_before_stop} <= {(p_, o) for p_, o, _ in acked}

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = c.committed([TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)], timeout=15)
        assert [(tp.partition, tp.offset) for tp in committed] == [(0, 7), (1, 3)]
    finally:
        c.close()


def _retention_case(broker, topic_name, config: dict[str, str], timestamp: int | None) -> None:
    create_topic(broker.bootstrap, topic_name, config={"segment.bytes": "2048", **config})
    records = [{"value": os.urandom(300)} for _ in range(60)]
    if timestamp is not None:  # old records first, then 10 current ones that retention.ms keeps
        for r in records[:50]:
            r["timestamp"] = timestamp
    # One record per batch (flush after each), so the batches fill several 2 KiB segments.
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "acks": "all"})
    for r in records:
        p.produce(topic_name, **r)
        assert p.flush(10) == 0
    logs = broker.partition_dir(topic_name, 0)

    def start_moved() -> int:
        low, high = watermarks(broker.bootstrap, topic_name)
        assert high == len(records)
        return low

    low = poll_until("the log start offset to move", start_moved)
    assert 0 < low < len(records)
    # Old segments are gone from disk, and reading from the beginning starts at the new log start.
    poll_until("old segment files deleted", lambda: min(int(f.stem) for f in logs.glob("*.log")) > 0)
    first = consume_partition(broker.bootstrap, topic_name, 0, OFFSET_BEGINNING, 1)
    assert first[0].offset() >= low


def test_retention_by_bytes_deletes_old_segments(broker, topic_name):
    _retention_case(broker, topic_name, {"retention.bytes": "4096"}, None)
    # At most retention.bytes plus one segment stays: 20 records of 300 bytes at the very most.
    poll_until("retention.bytes applied", lambda: watermarks(broker.bootstrap, topic_name)[0] >= 40)


def test_retention_by_time_deletes_old_segments(broker, topic_name):
    # Records stamped an hour ago are past retention.ms=60000; the segments holding the 10 current ones are not.
    _retention_case(broker, topic_name, {"retention.ms": "60000"}, int(time.time() * 1000) - 3_600_000)
    low, _ = watermarks(broker.bootstrap, topic_name)
    assert low <= 50


def test_transactional_producer_fails_fast_with_a_clear_error(broker, topic_name):
    # The broker has no transaction coordinator. A retriable answer made transactional producers wait for one until
    # their own timeouts (Java's for minutes); librdkafka must instead fail init_transactions at once, fatally, with the
    # broker's reason, well inside the 60 s it was given.
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"{topic_name}-txn"})
    started = time.monotonic()
    with pytest.raises(KafkaException) as raised:
        p.init_transactions(60)
    elapsed = time.monotonic() - started
    error = raised.value.args[0]
    assert elapsed < 10, f"init_transactions took {elapsed:.1f} s to fail: {error}"
    assert error.fatal(), error
    assert "Transactions are not supported by this broker" in error.str(), error.str()
    # An idempotent producer without transactional.id still works against the same broker.
    idempotent = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    idempotent.produce(topic_name, value=b"after the refusal")
    assert idempotent.flush(30) == 0


def test_keyless_records_on_a_compacted_topic_fail_with_invalid_record(broker, topic_name):
    # As librdkafka's own 0011_produce_batch (test_message_single_partition_record_fail) expects of Kafka: the broker
    # refuses a batch holding keyless records for a compacted topic with INVALID_RECORD, naming the keyless records in
    # the Produce response's record errors, and stores none of the batch.
    create_topic(broker.bootstrap, topic_name, config={"cleanup.policy": "compact"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 200, "acks": "all"})
    results: list[tuple[KafkaError | None, bytes | None]] = []  # (error, value) per delivery report
    for i in range(10):
        p.produce(
            topic_name,
            key=None if i % 2 == 0 else f"k{i}".encode(),
            value=f"v{i}".encode(),
            partition=0,
            on_delivery=lambda err, msg: results.append((err, msg.value())),
        )
    assert p.flush(30) == 0
    assert len(results) == 10
    # librdkafka maps the record errors onto its messages: the keyless ones fail with the broker's INVALID_RECORD, the
    # keyed ones with its own _INVALID_DIFFERENT_RECORD ("an invalid record in the same batch caused the failure").
    codes = {value: err.code() if err else None for err, value in results}
    assert codes == {
        f"v{i}".encode(): KafkaError.INVALID_RECORD if i % 2 == 0 else KafkaError._INVALID_DIFFERENT_RECORD
        for i in range(10)
    }, results
    assert watermarks(broker.bootstrap, topic_name) == (0, 0)
    # Keyed records alone are stored.
    reports = produce(broker.bootstrap, topic_name, [{"key": b"k", "value": b"kept", "partition": 0}])
    assert [r.offset() for r in reports] == [0]


@pytest.mark.cluster_only
def test_partitions_and_group_coordinators_spread_over_the_brokers(broker, topic_name):
    # Issue 11: on a 3-node cluster a topic's partitions are led by different brokers (Kafka's assignment spreads
    # leaders), and groups are coordinated by the broker leading their __consumer_offsets partition, so several groups
    # land on several brokers. Each broker serves what it leads: produce and read back every partition, commit and read
    # back each group's offsets, and describe each group through its coordinator.
    brokers = {n["id"] for n in broker.nodes}
    create_topic(broker.bootstrap, topic_name, partitions=6)
    wait_topic_visible(broker.bootstrap, topic_name, 6)
    md = admin(broker.bootstrap).list_topics(topic_name, timeout=10)
    assert {b.id for b in md.brokers.values()} == brokers
    leaders = {p.id: p.leader for p in md.topics[topic_name].partitions.values()}
    assert set(leaders.values()) == brokers, f"partition leaders {leaders}"

    records = [{"value": f"p{p}-{i}".encode(), "partition": p} for p in range(6) for i in range(5)]
    produce(broker.bootstrap, topic_name, records, {"acks": "all"})
    for p in range(6):
        # Straight to the partition's leader alone: it holds the records.
        stored = consume_partition(broker.node_bootstrap(leaders[p]), topic_name, p, OFFSET_BEGINNING, 5)
        assert [m.value() for m in stored] == [f"p{p}-{i}".encode() for i in range(5)]

    groups = [f"spread-{topic_name}-{g}" for g in range(12)]
    for g, group in enumerate(groups):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic_name, g % 6, g + 1)], asynchronous=False)
            assert c.committed([TopicPartition(topic_name, g % 6)], timeout=10)[0].offset == g + 1
        finally:
            c.close()
    a = admin(broker.bootstrap)  # referenced until its futures resolve (see docs/compat.md)
    offsets_topic = a.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
    offsets_leaders = {p.leader for p in offsets_topic.partitions.values()}
    described = a.describe_consumer_groups(groups, request_timeout=15)
    coordinators = {}
    for group, future in described.items():
        d = future.result(timeout=20)
        assert d.state == ConsumerGroupState.EMPTY, (group, d.state)
        coordinators[group] = d.coordinator.id
    assert set(coordinators.values()) <= brokers
    # __consumer_offsets is created on the first FindCoordinator, once every broker is registered: its partitions are
    # led by several brokers, and the groups' coordinators spread with them.
    assert len(offsets_leaders) > 1, f"every __consumer_offsets partition is led by broker {offsets_leaders}"
    assert len(set(coordinators.values())) > 1, f"every group on one coordinator: {coordinators}"
