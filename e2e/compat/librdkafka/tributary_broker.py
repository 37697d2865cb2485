"""Runs the real broker executable (broker/bin/tributary-broker, built by `npx tsc -b`) on a free loopback port, or a
cluster of such nodes through the multi-process harness (broker/test/support/cluster-cli.ts).

Shared by the librdkafka and kcat conformance suites. Output goes to <data dir>/broker.log (one broker) or each node's
output.log (a cluster) so a failing test can show it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / "broker" / "bin" / "tributary-broker"
CLUSTER_CLI = REPO / "broker" / "test" / "support" / "cluster-cli.ts"
TSX = REPO / "node_modules" / ".bin" / "tsx"

T = TypeVar("T")
B = TypeVar("B", "BrokerProcess", "ClusterProcess")


def poll_until(what: str, check: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Calls check until it returns something truthy, or raises after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class BrokerProcess:
    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="tributary-compat-"))
        self.log_path = self.data_dir / "broker.log"
        self.overrides = {
            "node.id": "1",
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "group.initial.rebalance.delay.ms": "0",
            "metrics.port": "-1",
            **(overrides or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        # As a cluster lists its nodes (ClusterProcess.nodes).
        self.nodes = [{"id": 1, "port": self.port, "logDirs": str(self.data_dir / "logs"), "log": str(self.log_path)}]

    def start(self) -> "BrokerProcess":
        if not (REPO / "broker" / "dist" / "src" / "main.js").exists():
            raise RuntimeError("broker/dist is missing: run `npx tsc -b` first")
        config = self.data_dir / "server.properties"
        config.write_text("# every key is given as an --override\n")
        args = ["node", str(BIN), "--config", str(config)]
        for key, value in self.overrides.items():
            args += ["--override", f"{key}={value}"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode} during start:\n{self.output()}")
            return _can_connect(self.port)

        poll_until(f"broker on port {self.port}", up)
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def partition_dir(self, topic: str, partition: int) -> Path:
        """The directory holding one partition's segment files."""
        return self.data_dir / "logs" / f"{topic}-{partition}"

    def log_files(self) -> list[Path]:
        return [self.log_path]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stops with SIGTERM (clean shutdown) or SIGKILL (crash) and waits for the process to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def restart(self) -> None:
        self.start()

    def restart_leader_of(self, topic: str, partition: int, sig: int) -> int | None:
        """Stops the broker leading the partition (this one) with sig, starts it again, and returns its exit code."""
        code = self.stop(sig)
        self.restart()
        return code

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)


class ClusterProcess:
    """N combined nodes (broker and controller each) as separate processes, started, formatted and waited for by
    cluster-cli.ts, which prints the nodes as one JSON line once every broker lists all of them. The nodes live as long
    as that script's stdin stays open, so they go when this process does, however it ends."""

    def __init__(self, nodes: int, overrides: dict[str, str] | None = None) -> None:
        self.size = nodes
        self.overrides = dict(overrides or {})
        self.stderr_path = Path(tempfile.mkstemp(prefix="tributary-cluster-cli-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.bootstrap = ""
        self.nodes: list[dict] = []

    def start(self) -> "ClusterProcess":
        if not TSX.exists():
            raise RuntimeError(f"{TSX} is missing: run `npm ci` first")
        args = [str(TSX), str(CLUSTER_CLI), "--nodes", str(self.size), "--rf", str(replication_factor())]
        args += ["--system", system()]
        for key, value in self.overrides.items():
            args += ["--config", f"{key}={value}"]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(args, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        # The script has its own deadlines (each node's start, then every broker seeing the others) and exits on them.
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"cluster-cli exited with {self.proc.returncode}:\n{self.output()}")
        info = json.loads(line)
        self.bootstrap = info["bootstrap"]
        self.nodes = info["nodes"]
        return self

    def node_bootstrap(self, node_id: int) -> str:
        return next(f"127.0.0.1:{n['port']}" for n in self.nodes if n["id"] == node_id)

    def command(self, line: str) -> dict:
        """One harness command (cluster-cli.ts says which), answered with one JSON line; fails on an error answer."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"cluster-cli exited during {line!r}:\n{self.output()}")
        said = json.loads(answer)
        if not said.get("ok"):
            raise AssertionError(f"cluster-cli {line!r}: {said.get('error')}")
        return said

    def leader(self, topic: str, partition: int) -> int:
        return int(self.command(f"leader {topic} {partition}")["leader"])

    def restart_leader_of(self, topic: str, partition: int, sig: int) -> int | None:
        """Stops the node leading the partition with sig (SIGTERM or SIGKILL), starts it again, waits until every
        broker lists all three, and returns the node's exit code (None when a signal killed it)."""
        victim = self.leader(topic, partition)
        code = self.command(f"stop {victim} {signal.Signals(sig).name}")["code"]
        self.command(f"start {victim}")
        return code

    def output(self) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        for f in self.log_files():
            if f.exists():
                text += f"\n--- {f} ---\n" + f.read_text(errors="replace")[-4000:]
        return text

    def partition_dir(self, topic: str, partition: int) -> Path:
        """The directory of a partition's segments on the node leading it (its only replica under replication factor
        1)."""
        leader = self.leader(topic, partition)
        d = next(Path(n["logDirs"], f"{topic}-{partition}") for n in self.nodes if n["id"] == leader)
        assert d.is_dir(), f"{topic}-{partition} has no directory on its leader, node {leader}: {d}"
        return d

    def log_files(self) -> list[Path]:
        return [Path(n["log"]) for n in self.nodes]

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.stderr_path.unlink(missing_ok=True)


def cluster_size() -> int:
    """TRIBUTARY_COMPAT_NODES: how many nodes the suites' shared broker is (1 unless set)."""
    value = os.environ.get("TRIBUTARY_COMPAT_NODES", "1")
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"TRIBUTARY_COMPAT_NODES must be a positive integer, not {value!r}")
    return int(value)


def replication_factor() -> int:
    """TRIBUTARY_COMPAT_RF: the replication factor of the suites' topics on a cluster (1 unless set): the cluster's
    default.replication.factor and offsets.topic.replication.factor, with min.insync.replicas 2 above 1."""
    value = os.environ.get("TRIBUTARY_COMPAT_RF", "1")
    if not value.isdigit() or not 1 <= int(value) <= cluster_size():
        raise RuntimeError(f"TRIBUTARY_COMPAT_RF must be 1..{cluster_size()} (TRIBUTARY_COMPAT_NODES), not {value!r}")
    return int(value)


def system() -> str:
    """TRIBUTARY_COMPAT_SYSTEM: what the cluster runs, tributary (the default) or kafka, the reference Apache Kafka
    (`make reference-kafka`), to see how a client behaves against Kafka with the same tests."""
    value = os.environ.get("TRIBUTARY_COMPAT_SYSTEM", "tributary")
    if value not in ("tributary", "kafka"):
        raise RuntimeError(f"TRIBUTARY_COMPAT_SYSTEM must be tributary or kafka, not {value!r}")
    return value


def _started(process: B) -> B:
    """Starts a broker or cluster; on failure prints what it said and deletes what it left."""
    try:
        return process.start()
    except BaseException:
        print(process.output())
        process.destroy()
        raise


def start_cluster(nodes: int, overrides: dict[str, str] | None = None) -> ClusterProcess:
    return _started(ClusterProcess(nodes, overrides))


def start_broker(overrides: dict[str, str] | None = None) -> BrokerProcess:
    return _started(BrokerProcess(overrides))


def keep_log_on_failure(broker: BrokerProcess | ClusterProcess, failed: bool) -> None:
    """Copies the broker's (or every node's) log next to the tests when a test failed (the data dirs are deleted
    afterwards)."""
    if failed:
        out = Path(os.environ.get("TRIBUTARY_COMPAT_ARTIFACTS", REPO / "e2e" / "artifacts" / "compat"))
        out.mkdir(parents=True, exist_ok=True)
        for f in broker.log_files():
            if f.exists():
                shutil.copy(f, out / f"{f.parent.name}-{f.parent.parent.name}-{f.name}")
