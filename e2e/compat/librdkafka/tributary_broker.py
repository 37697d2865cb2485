"""Runs the real broker executable (broker/bin/tributary-broker, built by `npx tsc -b`) on a free loopback port.

Shared by the librdkafka and kcat conformance suites. Output goes to <data dir>/broker.log so a failing test can show it.
"""

from __future__ import annotations

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

T = TypeVar("T")


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

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stops with SIGTERM (clean shutdown) or SIGKILL (crash) and waits for the process to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def restart(self) -> None:
        self.start()

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_broker(overrides: dict[str, str] | None = None) -> BrokerProcess:
    broker = BrokerProcess(overrides)
    try:
        return broker.start()
    except BaseException:
        print(broker.output())
        broker.destroy()
        raise


def keep_log_on_failure(broker: BrokerProcess, failed: bool) -> None:
    """Copies the broker's log next to the tests when a test failed (the data dir is deleted afterwards)."""
    if failed:
        out = Path(os.environ.get("TRIBUTARY_COMPAT_ARTIFACTS", REPO / "e2e" / "artifacts" / "compat"))
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(broker.log_path, out / f"broker-{broker.port}.log")
