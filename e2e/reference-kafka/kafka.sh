#!/usr/bin/env bash
# Runs the reference Apache Kafka (installed by install.sh) as a single-node KRaft broker+controller on loopback.
#
#   kafka.sh start --port PORT --data-dir DIR [--controller-port PORT] [--timeout SECONDS] [--heap SIZE] [--set key=value]...
#       formats DIR on first use, starts the broker in the background, waits (with a deadline) until it logs
#       "Kafka Server started" and accepts TCP connections, then prints its PID on stdout.
#       Broker output goes to DIR/kafka.log, the PID to DIR/kafka.pid, the generated config to DIR/server.properties.
#   kafka.sh stop --data-dir DIR [--timeout SECONDS]   SIGTERM, then SIGKILL after the timeout
#   kafka.sh status --data-dir DIR                     prints the PID and exits 0 if it runs, else exits 1
#   kafka.sh run-class MAIN_CLASS [ARGS...]            runs a Kafka main class from the jars, e.g.
#       kafka.sh run-class org.apache.kafka.tools.ProducerPerformance --topic t --num-records 1000 ...
#   kafka.sh run-broker [--heap SIZE] CONFIG            runs kafka.Kafka in the foreground on a server.properties the
#       caller wrote and formatted (a node of a multi-node cluster: broker/test/support/cluster.ts); the script execs
#       the JVM, so the caller's child process is the broker itself and a signal sent to it reaches Kafka
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

die() {
  echo "reference-kafka: $*" >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The PID in DIR/kafka.pid, if that process is still our broker (guards against PID reuse).
running_pid() {
  local dir="$1" pid
  [[ -f "$dir/kafka.pid" ]] || return 1
  pid="$(cat "$dir/kafka.pid")"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/server.properties" || return 1
  echo "$pid"
}

java_cmd() {
  local log4j="$1"
  shift
  exec_java=(java -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true "-Dlog4j2.configurationFile=$log4j"
    -cp "$KAFKA_LIBS/*" "$@")
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: kafka.sh start|stop|status|run-class ..."
shift

if [[ "$cmd" == run-class ]]; then
  "$REFERENCE_KAFKA_DIR/install.sh" >/dev/null
  java_cmd "$REFERENCE_KAFKA_DIR/tools-log4j2.properties" "$@"
  exec "${exec_java[@]}"
fi

if [[ "$cmd" == run-broker ]]; then
  heap="1G"
  if [[ "${1:-}" == --heap ]]; then
    heap="${2:-}" && shift 2
  fi
  (($# == 1)) && [[ -f "$1" ]] || die "usage: kafka.sh run-broker [--heap SIZE] CONFIG (an existing server.properties)"
  "$REFERENCE_KAFKA_DIR/install.sh" >/dev/null
  java_cmd "$REFERENCE_KAFKA_DIR/log4j2.properties" "-Xms$heap" "-Xmx$heap" kafka.Kafka "$1"
  exec "${exec_java[@]}"
fi

port="" controller_port="" data_dir="" timeout="" heap="1G"
overrides=()
while (($#)); do
  case "$1" in
    --port) port="$2" && shift 2 ;;
    --controller-port) controller_port="$2" && shift 2 ;;
    --data-dir) data_dir="$2" && shift 2 ;;
    --timeout) timeout="$2" && shift 2 ;;
    --heap) heap="$2" && shift 2 ;;
    --set) overrides+=("$2") && shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n "$data_dir" ]] || die "--data-dir is required"
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"

case "$cmd" in
  start)
    [[ "$port" =~ ^[0-9]+$ ]] || die "--port is required"
    timeout="${timeout:-90}"
    controller_port="${controller_port:-$((port + 1))}"
    if pid="$(running_pid "$data_dir")"; then die "already running in $data_dir (pid $pid)"; fi
    for p in "$port" "$controller_port"; do
      if port_open "$p"; then die "port 127.0.0.1:$p is already in use"; fi
    done
    "$REFERENCE_KAFKA_DIR/install.sh" >/dev/null

    config="$data_dir/server.properties"
    {
      echo "# Written by e2e/reference-kafka/kafka.sh"
      echo "process.roles=broker,controller"
      echo "node.id=1"
      echo "controller.quorum.voters=1@127.0.0.1:$controller_port"
      echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
      echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
      echo "controller.listener.names=CONTROLLER"
      echo "inter.broker.listener.name=PLAINTEXT"
      echo "log.dirs=$data_dir/logs"
      echo "num.partitions=1"
      echo "offsets.topic.replication.factor=1"
      echo "share.coordinator.state.topic.replication.factor=1"
      echo "share.coordinator.state.topic.min.isr=1"
      echo "transaction.state.log.replication.factor=1"
      echo "transaction.state.log.min.isr=1"
      echo "group.initial.rebalance.delay.ms=0"
      for kv in "${overrides[@]}"; do echo "$kv"; done
    } >"$config"

    if [[ ! -f "$data_dir/logs/meta.properties" ]]; then
      # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding (22 characters).
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
      java_cmd "$REFERENCE_KAFKA_DIR/tools-log4j2.properties" kafka.tools.StorageTool format \
        --config "$config" --cluster-id "$cluster_id" --ignore-formatted
      "${exec_java[@]}" >"$data_dir/format.log" 2>&1 || {
        cat "$data_dir/format.log" >&2
        die "formatting $data_dir failed"
      }
    fi

    java_cmd "$REFERENCE_KAFKA_DIR/log4j2.properties" "-Xms$heap" "-Xmx$heap" kafka.Kafka "$config"
    : >"$data_dir/kafka.log"
    setsid nohup "${exec_java[@]}" >>"$data_dir/kafka.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$data_dir/kafka.pid"

    deadline=$((SECONDS + timeout))
    until grep -q "Kafka Server started" "$data_dir/kafka.log" && port_open "$port"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 40 "$data_dir/kafka.log" >&2
        die "the broker exited during startup (log: $data_dir/kafka.log)"
      fi
      if ((SECONDS >= deadline)); then
        kill -KILL "$pid" 2>/dev/null || true
        tail -n 40 "$data_dir/kafka.log" >&2
        die "the broker did not start within ${timeout}s (log: $data_dir/kafka.log)"
      fi
      sleep 0.2 # poll interval; readiness is decided by the checks above
    done
    echo "$pid"
    ;;
  stop)
    timeout="${timeout:-30}"
    pid="$(running_pid "$data_dir")" || exit 0
    kill -TERM "$pid"
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "reference-kafka: pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2 # poll interval
    done
    rm -f "$data_dir/kafka.pid"
    ;;
  status)
    running_pid "$data_dir" || exit 1
    ;;
  *) die "unknown command $cmd" ;;
esac
