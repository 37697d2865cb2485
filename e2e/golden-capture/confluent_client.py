"""Drives confluent-kafka (librdkafka) through the recording proxy: create a topic, produce a few records with every
compression codec (one producer per codec, so one codec per Produce request), then consume them in a group.

Usage: python confluent_client.py BOOTSTRAP TOPIC GROUP (run with the venv from setup-venv.sh).
"""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 3


def main() -> None:
    bootstrap, topic, group = sys.argv[1:4]
    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "golden-librdkafka-admin"})
    for future in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
        try:
            future.result(30)
        except KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise

    for codec in CODECS:
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": f"golden-librdkafka-producer-{codec}",
                "compression.codec": codec,
                "linger.ms": 50,
            }
        )
        for i in range(PER_CODEC):
            value = f"{codec} value {i} " + "x" * 40
            producer.produce(topic, value=value, key=f"key-{i}", partition=0, headers=[("codec", codec.encode())])
        if producer.flush(30) != 0:
            raise RuntimeError(f"{codec}: records left unsent")

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "golden-librdkafka-consumer",
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    expected = len(CODECS) * PER_CODEC
    seen = 0
    deadline = time.monotonic() + 60
    while seen < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumed {seen} of {expected}")
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        seen += 1
    consumer.commit(asynchronous=False)
    consumer.close()
    print({"produced": expected, "consumed": seen})


if __name__ == "__main__":
    main()
