"""The librdkafka side of the chaos workload (confluent-kafka, from the compat venv: e2e/compat/librdkafka/setup.sh).

One process runs several roles in threads and writes the history (broker/test/chaos/history.ts) as JSON lines on
stdout; anything else it has to say goes to stderr.

  rdkafka_client.py run --bootstrap B --topic T --partitions P [--rate R] [--padding N]
      [--producer NAME]... [--consumer NAME:GROUP]... [--observer NAME:GROUP[,GROUP...]]
      producers: idempotent, acks=all; record seq goes to partition seq % P with the value "<NAME>:<seq>|<padding>".
      consumers: group members with auto-commit off; they commit what they read, synchronously, about twice a second.
      observer:  fetches the groups' committed offsets (OffsetFetch) about once a second.
      Commands on stdin, one per line: "stop-producers" (stop sending, wait for every send's outcome, then print the
      note "producers-stopped"), "stop" (commit, leave the groups, exit). stdin closing means "stop".
  rdkafka_client.py dump --bootstrap B --topic T --partitions P
      reads every partition from its start until the fetch reaches its end, and prints "log" events and one "log-end"
      per partition (with the end ListOffsets gave, as "listed").
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

_out_lock = threading.Lock()


def now_ms() -> int:
    return int(time.time() * 1000)


def emit(event: dict) -> None:
    line = json.dumps(event, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def note(actor: str, msg: str) -> None:
    emit({"ev": "note", "a": actor, "msg": msg, "t": now_ms()})


def value_id(raw: bytes | None) -> str:
    text = (raw or b"").decode("utf-8", "replace")
    bar = text.find("|")
    return text if bar < 0 else text[:bar]


class ProducerRole(threading.Thread):
    def __init__(self, name: str, args: argparse.Namespace, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.actor = name
        self.args = args
        self.stop_sending = stop
        self.padding = "x" * args.padding
        self.producer = Producer(
            {
                "bootstrap.servers": args.bootstrap,
                "client.id": name,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                # Long enough to ride out a fault and the recovery after it; a send that still fails is a nack.
                "message.timeout.ms": 120000,
                # The idempotent producer's decisions (producer id and epoch changes, drains, sequence errors) and every
                # failed or retried message set, on stderr (rdkafka.log): what explains a duplicate afterwards.
                "debug": "eos,msg",
                "error_cb": lambda err: note(self.actor, f"error: {err}"),
            }
        )

    def _report(self, seq: int, partition: int):
        def done(err, msg) -> None:
            if err is None:
                emit({"ev": "ack", "a": self.actor, "seq": seq, "p": msg.partition(), "o": msg.offset(), "t": now_ms()})
            else:
                emit({"ev": "nack", "a": self.actor, "seq": seq, "p": partition, "err": str(err), "t": now_ms()})

        return done

    def run(self) -> None:
        seq = 0
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while not self.stop_sending.is_set():
            partition = seq % self.args.partitions
            value = f"{self.actor}:{seq}|{self.padding}"
            try:
                self.producer.produce(self.args.topic, value=value, partition=partition, on_delivery=self._report(seq, partition))
            except BufferError:
                # The local queue is full (the cluster is not taking writes): serve callbacks, try the same seq again.
                self.producer.poll(0.1)
                continue
            except KafkaException as e:
                note(self.actor, f"produce failed: {e}")
                self.producer.poll(0.1)
                continue
            seq += 1
            self.producer.poll(0)
            # Pacing the load, not synchronising with anything.
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop_sending.wait(delay)
            else:
                next_at = time.monotonic()
        left = self.producer.flush(180)
        note(self.actor, f"flushed, {left} sends without an outcome, {seq} sent")


class ConsumerRole(threading.Thread):
    def __init__(self, name: str, group: str, args: argparse.Namespace, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.actor = name
        self.group = group
        self.args = args
        self.stop = stop
        self.positions: dict[int, int] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": args.bootstrap,
                "client.id": name,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "range",
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
                "error_cb": lambda err: note(self.actor, f"error: {err}"),
            }
        )

    def _commit(self) -> None:
        if not self.positions:
            return
        offsets = [TopicPartition(self.args.topic, p, o) for p, o in sorted(self.positions.items())]
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            note(self.actor, f"commit failed: {e}")
            return
        t = now_ms()
        for tp in result or []:
            if tp.error is None:
                emit({"ev": "commit", "a": self.actor, "g": self.group, "p": tp.partition, "o": tp.offset, "t": t})
            else:
                note(self.actor, f"commit of {tp.partition} failed: {tp.error}")

    def _on_assign(self, consumer, partitions) -> None:
        emit({"ev": "assign", "a": self.actor, "g": self.group, "ps": sorted(tp.partition for tp in partitions), "t": now_ms()})

    def _on_revoke(self, consumer, partitions) -> None:
        self._commit()
        for tp in partitions:
            self.positions.pop(tp.partition, None)

    def run(self) -> None:
        self.consumer.subscribe([self.args.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_commit = time.monotonic()
        while not self.stop.is_set():
            msgs = self.consumer.consume(num_messages=500, timeout=0.2)
            for m in msgs:
                if m.error() is not None:
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        note(self.actor, f"consume error: {m.error()}")
                    continue
                emit({"ev": "read", "a": self.actor, "g": self.group, "p": m.partition(), "o": m.offset(), "v": value_id(m.value()), "t": now_ms()})
                self.positions[m.partition()] = m.offset() + 1
            if time.monotonic() - last_commit >= 0.5:
                self._commit()
                last_commit = time.monotonic()
        self._commit()
        self.consumer.close()


class ObserverRole(threading.Thread):
    def __init__(self, name: str, groups: list[str], args: argparse.Namespace, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.actor = name
        self.args = args
        self.stop = stop
        self.consumers = {
            g: Consumer({"bootstrap.servers": args.bootstrap, "client.id": f"{name}-{g}", "group.id": g, "enable.auto.commit": False})
            for g in groups
        }

    def run(self) -> None:
        tps = [TopicPartition(self.args.topic, p) for p in range(self.args.partitions)]
        while not self.stop.wait(1.0):
            for g, c in self.consumers.items():
                try:
                    got = c.committed(tps, timeout=5)
                except KafkaException as e:
                    note(self.actor, f"offset fetch of {g} failed: {e}")
                    continue
                t = now_ms()
                for tp in got:
                    if tp.error is None and tp.offset >= 0:
                        emit({"ev": "committed", "a": self.actor, "g": g, "p": tp.partition, "o": tp.offset, "t": t})
        for c in self.consumers.values():
            c.close()


def run(args: argparse.Namespace) -> None:
    stop_producers = threading.Event()
    stop_all = threading.Event()
    producers = [ProducerRole(n, args, stop_producers) for n in args.producer]
    others: list[threading.Thread] = []
    for spec in args.consumer:
        name, _, group = spec.partition(":")
        others.append(ConsumerRole(name, group, args, stop_all))
    for spec in args.observer:
        name, _, groups = spec.partition(":")
        others.append(ObserverRole(name, groups.split(","), args, stop_all))
    for t in producers + others:
        t.start()

    def stop_producing() -> None:
        stop_producers.set()
        for t in producers:
            t.join()
        note("driver", "producers-stopped")

    stopper: threading.Thread | None = None
    for line in sys.stdin:
        command = line.strip()
        if command == "stop-producers" and stopper is None:
            stopper = threading.Thread(target=stop_producing, daemon=True)
            stopper.start()
        elif command == "stop":
            break
        elif command:
            note("driver", f"unknown command {command!r}")
    stop_producers.set()
    stop_all.set()
    for t in producers + others:
        t.join(timeout=60)
    note("driver", "stopped")


def dump(args: argparse.Namespace) -> None:
    """Reads each partition from its start until the fetch says it is at the end (partition EOF), and prints the end
    found that way beside the one ListOffsets gave before, so a broker whose two answers disagree is caught, not
    mistaken for lost records."""
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "chaos-dump", "enable.auto.commit": False, "enable.partition.eof": True})
    deadline = time.monotonic() + args.timeout
    for p in range(args.partitions):
        tp = TopicPartition(args.topic, p)
        while True:
            try:
                low, high = c.get_watermark_offsets(tp, timeout=10)
                break
            except KafkaException as e:
                if time.monotonic() > deadline:
                    raise
                print(f"dump: watermarks of {p}: {e}; retrying", file=sys.stderr)
        c.assign([TopicPartition(args.topic, p, low)])
        at = low
        done = False
        while not done:
            if time.monotonic() > deadline:
                raise SystemExit(f"dump: partition {p} never reached its end (at {at}, ListOffsets said {low}..{high})")
            for m in c.consume(num_messages=1000, timeout=1.0):
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at = max(at, m.offset())
                        done = True
                    else:
                        print(f"dump: {m.error()}", file=sys.stderr)
                    continue
                emit({"ev": "log", "p": p, "o": m.offset(), "v": value_id(m.value())})
                at = max(at, m.offset() + 1)
        c.unassign()
        emit({"ev": "log-end", "p": p, "start": low, "end": at, "listed": high})
    c.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "dump"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--padding", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--producer", action="append", default=[])
    parser.add_argument("--consumer", action="append", default=[])
    parser.add_argument("--observer", action="append", default=[])
    args = parser.parse_args()
    if args.mode == "run":
        run(args)
    else:
        dump(args)


if __name__ == "__main__":
    main()
