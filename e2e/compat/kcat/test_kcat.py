"""Conformance: unmodified kcat (Debian package, its own librdkafka) against a real Tributary broker process."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, TopicPartition

from helpers import create_topic, produce
from tributary_broker import poll_until, replication_factor


def kcat(*args: str, stdin: str | None = None, timeout: float = 60) -> str:
    result = subprocess.run(
        ["kcat", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"kcat {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def consume_all(bootstrap: str, topic: str, fmt: str, *extra: str) -> list[str]:
    out = kcat("-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt, *extra)
    return out.splitlines()


def test_metadata_listing(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=3)

    # A new topic reaches each broker's metadata when that broker applies the controller's records; a broker asked
    # before then does not list it yet (or answers LEADER_NOT_AVAILABLE), as Kafka's do, and kcat -L does not retry.
    # Under replication factor 3 every replica is also in the ISR: a new partition's ISR is every assigned replica that
    # is alive, as in Kafka (before 6634eeb Tributary's was the leader alone, and the kcat listing showed it).
    rf = replication_factor()

    def in_sync(p: dict) -> bool:
        return sorted(r["id"] for r in p["isrs"]) == sorted(r["id"] for r in p["replicas"])

    def listed() -> dict | None:
        listing = json.loads(kcat("-b", broker.bootstrap, "-L", "-J"))
        mine = [t for t in listing["topics"] if t["topic"] == topic_name]
        ok = mine and len(mine[0]["partitions"]) == 3 and all(in_sync(p) for p in mine[0]["partitions"])
        return listing if ok else None

    listing = poll_until(f"{topic_name} listed with 3 partitions, every replica in sync", listed)
    # One broker, or every node of a cluster (TRIBUTARY_COMPAT_NODES), each under its own address.
    nodes = broker.nodes
    listed = sorted((b["id"], b["name"]) for b in listing["brokers"])
    assert listed == [(n["id"], f"127.0.0.1:{n['port']}") for n in nodes]
    topics = {t["topic"]: t for t in listing["topics"]}
    assert topic_name in topics
    parts = sorted(topics[topic_name]["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2]
    # Each partition has replication-factor replicas (its leader alone under replication factor 1), the leader among
    # them. Three partitions on three brokers get three different leaders (Kafka's assignment spreads them).
    for p in parts:
        replicas = [r["id"] for r in p["replicas"]]
        assert len(set(replicas)) == rf and p["leader"] in replicas, p
    assert {p["leader"] for p in parts} == {n["id"] for n in nodes}

    text = poll_until(
        f"{topic_name} listed with its partitions",
        lambda: (t := kcat("-b", broker.bootstrap, "-L", "-t", topic_name)) and "with 3 partitions:" in t and t,
    )
    assert f'topic "{topic_name}" with 3 partitions:' in text
    last = parts[2]
    replicas = ",".join(str(r["id"]) for r in last["replicas"])
    assert f"partition 2, leader {last['leader']}, replicas: {replicas}, isrs: " in text


def test_produce_and_consume_with_keys(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=3)
    lines = [f"key-{i % 7}:value-{i}" for i in range(70)]
    kcat("-b", broker.bootstrap, "-P", "-t", topic_name, "-K:", "-X", "acks=all", stdin="\n".join(lines) + "\n")

    got = [line.split("|") for line in consume_all(broker.bootstrap, topic_name, "%p|%o|%k|%s\\n")]
    assert sorted(f"{k}:{v}" for _, _, k, v in got) == sorted(lines)
    partition_of: dict[str, set[int]] = defaultdict(set)
    per_partition: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for p, o, k, v in got:
        partition_of[k].add(int(p))
        per_partition[int(p)].append((int(o), f"{k}:{v}"))
    assert all(len(ps) == 1 for ps in partition_of.values()), partition_of
    assert len(per_partition) > 1, "every key on one partition"
    for p, records in per_partition.items():
        # Offsets are dense from 0 and each partition keeps the produce order.
        assert [o for o, _ in records] == list(range(len(records)))
        assert [v for _, v in records] == [line for line in lines if partition_of[line.split(":")[0]] == {p}]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_codec(broker, topic_name, codec):
    create_topic(broker.bootstrap, topic_name)
    lines = [f"{i}:" + "kcat compresses this line nicely " * 30 for i in range(200)]
    kcat(
        "-b", broker.bootstrap, "-P", "-t", topic_name, "-z", codec, "-X", "linger.ms=100", "-X", "acks=all",
        stdin="\n".join(lines) + "\n",
    )
    assert consume_all(broker.bootstrap, topic_name, "%s\\n") == lines
    raw = sum(len(line) for line in lines)
    on_disk = sum(f.stat().st_size for f in broker.partition_dir(topic_name, 0).glob("*.log"))
    if codec == "none":
        assert on_disk > raw
    else:
        assert on_disk < raw / 4, f"{codec}: {on_disk} bytes on disk for {raw} bytes of values"


def test_offsets_earliest_latest_relative_and_timestamp(broker, topic_name):
    create_topic(broker.bootstrap, topic_name)
    base = int(time.time() * 1000) - 3_600_000
    produce(broker.bootstrap, topic_name, [{"value": f"t{i}".encode(), "timestamp": base + i * 1000} for i in range(30)])
    fmt = "%o|%T|%s\\n"

    def read(*offset: str) -> list[str]:
        return kcat("-b", broker.bootstrap, "-C", "-t", topic_name, "-p", "0", *offset, "-e", "-q", "-f", fmt).splitlines()

    assert read("-o", "beginning", "-c", "1") == [f"0|{base}|t0"]
    assert read("-o", "end") == []
    assert read("-o", "-3") == [f"{i}|{base + i * 1000}|t{i}" for i in range(27, 30)]
    assert read("-o", "12", "-c", "2") == [f"{i}|{base + i * 1000}|t{i}" for i in (12, 13)]
    # s@ looks the offset up by timestamp (ListOffsets): the first record at or after it.
    assert read("-o", f"s@{base + 15_500}") == [f"{i}|{base + i * 1000}|t{i}" for i in range(16, 30)]
    assert read("-o", f"s@{base + 20_000}", "-o", f"e@{base + 23_000}") == [
        f"{i}|{base + i * 1000}|t{i}" for i in range(20, 23)
    ]


class GroupMember:
    """A `kcat -G` balanced consumer in the background, its output collected by threads."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.records: list[str] = []
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [
                "kcat", "-b", bootstrap, "-G", group, "-u", "-f", "%p|%o|%s\\n",
                "-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=300",
                "-X", "session.timeout.ms=10000", "-X", "auto.commit.interval.ms=200",
                topic,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stream, sink in ((self.proc.stdout, self.records), (self.proc.stderr, self.log)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def assigned(self) -> set[int] | None:
        """Partitions of the latest assignment kcat reported, None before the first."""
        lines = [line for line in self.log if "rebalanced" in line]
        if not lines:
            return None
        last = lines[-1]
        if "assigned:" not in last:
            return set()
        return {int(part.split("[")[1].split("]")[0]) for part in last.split("assigned:")[1].split(",")}

    def values(self) -> set[str]:
        return {line.split("|", 2)[2] for line in self.records}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # kcat closes the consumer: commits and leaves the group
            self.proc.wait(timeout=30)
        assert self.proc.returncode == 0, "\n".join(self.log)


def test_consumer_group(broker, topic_name):
    partitions = 4
    create_topic(broker.bootstrap, topic_name, partitions=partitions)
    first = [f"a{i}" for i in range(40)]
    for p in range(partitions):
        kcat("-b", broker.bootstrap, "-P", "-t", topic_name, "-p", str(p), stdin="\n".join(first[p::partitions]) + "\n")
    group = f"group-{topic_name}"
    everything = set(range(partitions))
    members: list[GroupMember] = []
    try:
        m1 = GroupMember(broker.bootstrap, group, topic_name)
        members.append(m1)
        poll_until("m1 owns every partition", lambda: m1.assigned() == everything)
        m2 = GroupMember(broker.bootstrap, group, topic_name)
        members.append(m2)

        def split() -> bool:
            a1, a2 = m1.assigned(), m2.assigned()
            return a1 is not None and a2 is not None and len(a1) == len(a2) == 2 and a1 | a2 == everything

        poll_until("the group to split the partitions 2/2", split)
        poll_until("every record consumed", lambda: m1.values() | m2.values() >= set(first))

        m2.stop()
        poll_until("m1 owns every partition again", lambda: m1.assigned() == everything)
        m1.stop()

        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
        try:
            committed = c.committed([TopicPartition(topic_name, p) for p in range(partitions)], timeout=10)
        finally:
            c.close()
        assert [(tp.partition, tp.offset) for tp in committed] == [(p, 10) for p in range(partitions)]

        # A new member resumes at the committed offsets.
        second = [f"b{i}" for i in range(8)]
        kcat("-b", broker.bootstrap, "-P", "-t", topic_name, stdin="\n".join(second) + "\n")
        m3 = GroupMember(broker.bootstrap, group, topic_name)
        members.append(m3)
        poll_until("m3 reads the new records", lambda: len(m3.records) >= len(second))
        assert sorted(m3.values()) == sorted(second)
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait()
