#!/usr/bin/env bash
# franz-go's own pkg/kgo integration tests against Tributary (issue 3, docs/compat.md "franz-go").
#
# Also runs txn/, a check of our own: a franz-go transactional producer fails fast (no transaction coordinator).
# Downloads the pinned github.com/twmb/franz-go module through the Go module proxy (`go mod download`, module cache
# under ~/go/pkg/mod; no git clone), copies it to a scratch directory, starts our broker on a free loopback port
# (unless KGO_SEEDS names one already) and runs the allowlisted tests (tests.allow) with KGO_TEST_RF=1.
# Needs Go and a built broker (`npx tsc -b`; `make compat-franz-go` does both). Exits non-zero on any failure.
#
#   e2e/compat/franz-go/run.sh            # allowlist
#   e2e/compat/franz-go/run.sh -run '^TestGroupETL$'   # extra `go test` flags override the allowlist's -run
#   TRIBUTARY_COMPAT_NODES=3 e2e/compat/franz-go/run.sh   # the allowlist (less the tests tagged `one-node`) and the
#                                                         # transactional check against 3 combined nodes
#                                                         # (broker/test/support/cluster-cli.ts)
#   TRIBUTARY_COMPAT_NODES=3 TRIBUTARY_COMPAT_RF=3 ...     # topics with 3 replicas, min.insync.replicas 2 (KGO_TEST_RF=3)
#   TRIBUTARY_COMPAT_SYSTEM=kafka ...                     # the cluster runs the reference Apache Kafka, for comparison
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

command -v go >/dev/null || { echo "franz-go: Go is required (go.dev/dl)" >&2; exit 1; }

nodes="${TRIBUTARY_COMPAT_NODES:-1}"
[[ "$nodes" =~ ^[1-9]$ ]] || { echo "franz-go: TRIBUTARY_COMPAT_NODES must be 1..9, not $nodes" >&2; exit 2; }
rf="${TRIBUTARY_COMPAT_RF:-1}"
[[ "$rf" =~ ^[1-9]$ ]] && ((rf <= nodes)) ||
  { echo "franz-go: TRIBUTARY_COMPAT_RF must be 1..$nodes (TRIBUTARY_COMPAT_NODES), not $rf" >&2; exit 2; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/tributary-franz-go.XXXXXX")"
broker_pid=""
cluster_pid=""
cluster_in=""
cleanup() {
  # The harness stops and deletes the nodes once its stdin closes.
  if [[ -n "$cluster_in" ]]; then exec {cluster_in}>&-; fi
  if [[ -n "$cluster_pid" ]]; then wait "$cluster_pid" 2>/dev/null || true; fi
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$broker_pid" 2>/dev/null || true
  fi
  if [[ "${KEEP_SCRATCH:-}" == "1" ]]; then echo "franz-go: scratch kept in $scratch" >&2; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

echo "franz-go: go mod download github.com/twmb/franz-go@$FRANZ_GO_VERSION" >&2
module_dir="$(cd "$scratch" && go mod download -json "github.com/twmb/franz-go@$FRANZ_GO_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$module_dir/pkg/kgo" ]] || { echo "franz-go: $module_dir/pkg/kgo missing after download" >&2; exit 1; }

# The module cache is read-only; go test wants a writable module root. A stable copy per version lets the Go build
# cache hit on the next run (compiled paths are part of the cache key).
src="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/franz-go/$FRANZ_GO_VERSION"
if [[ ! -f "$src/.complete" ]]; then
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  cp -R "$module_dir" "$src.tmp.$$"
  chmod -R u+w "$src.tmp.$$"
  mv "$src.tmp.$$" "$src"
  touch "$src/.complete"
fi

node_logs=()
if [[ -z "${KGO_SEEDS:-}" ]] && ((nodes > 1)); then
  [[ -f "$repo/broker/dist/src/main.js" ]] || { echo "franz-go: build the broker first (npx tsc -b)" >&2; exit 1; }
  coproc CLUSTER {
    exec "$repo/node_modules/.bin/tsx" "$repo/broker/test/support/cluster-cli.ts" --nodes "$nodes" --rf "$rf" \
      --system "${TRIBUTARY_COMPAT_SYSTEM:-tributary}" 2>"$scratch/cluster-cli.log"
  }
  cluster_pid=$CLUSTER_PID
  cluster_in=${CLUSTER[1]}
  # The harness has its own deadlines and exits on them; its one line lists the nodes once every broker sees all.
  if ! read -r -u "${CLUSTER[0]}" line; then
    echo "franz-go: the cluster did not start:" >&2
    cat "$scratch/cluster-cli.log" >&2
    exit 1
  fi
  KGO_SEEDS="$(sed -n 's/.*"bootstrap":"\([^"]*\)".*/\1/p' <<<"$line")"
  mapfile -t node_logs < <(grep -o '"log":"[^"]*"' <<<"$line" | sed 's/"log":"\(.*\)"/\1/')
  export KGO_SEEDS
  echo "franz-go: $nodes-node cluster on $KGO_SEEDS" >&2
elif [[ -z "${KGO_SEEDS:-}" ]]; then
  [[ -f "$repo/broker/dist/src/main.js" ]] || { echo "franz-go: build the broker first (npx tsc -b)" >&2; exit 1; }
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  mkdir -p "$scratch/broker"
  echo "# every key is an --override" >"$scratch/broker/server.properties"
  node "$repo/broker/bin/tributary-broker" --config "$scratch/broker/server.properties" \
    --override node.id=1 \
    --override process.roles=broker,controller \
    --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:$port" \
    --override listener.security.protocol.map=PLAINTEXT:PLAINTEXT \
    --override "log.dirs=$scratch/broker/logs" \
    --override num.partitions=1 \
    --override offsets.topic.replication.factor=1 \
    --override group.initial.rebalance.delay.ms=0 \
    --override metrics.port=-1 \
    >"$scratch/broker/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$broker_pid" 2>/dev/null || { echo "franz-go: broker exited during start:" >&2; cat "$scratch/broker/broker.log" >&2; exit 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  export KGO_SEEDS="127.0.0.1:$port"
  echo "franz-go: broker pid $broker_pid on $KGO_SEEDS (log $scratch/broker/broker.log)" >&2
fi
export KGO_TEST_RF="$rf"
# TestGroupETL produces and re-consumes this many records per balancer (franz-go's default is 500000).
export KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-20000}"
export KGO_LOG_LEVEL="${KGO_LOG_LEVEL:-none}"

# On a cluster the lines tagged `one-node` do not run.
allowed_lines="$(grep -v '^[[:space:]]*\(#\|$\)' "$here/tests.allow")"
if ((nodes > 1)); then allowed_lines="$(grep -Ev '[[:space:]]one-node([[:space:]]|$)' <<<"$allowed_lines")"; fi
allow="$(sed 's/[[:space:]].*//' <<<"$allowed_lines" | paste -sd '|')"
[[ -n "$allow" ]] || { echo "franz-go: tests.allow is empty" >&2; exit 1; }

cd "$src"
status=0
set -x
go test -count=1 -timeout "${FRANZ_GO_TIMEOUT:-6m}" -v -run "^($allow)\$" "$@" ./pkg/kgo >"$scratch/go-test.log" 2>&1 || status=$?
set +x
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS$|FAIL|ok |panic:)' "$scratch/go-test.log" | grep -v '^=== RUN' || true
if ((status != 0)); then
  echo "franz-go: go test failed ($status); last lines of the test log:" >&2
  tail -n 80 "$scratch/go-test.log" >&2
  if [[ -n "$broker_pid" ]]; then echo "franz-go: broker log tail:" >&2; tail -n 40 "$scratch/broker/broker.log" >&2; fi
  for f in "${node_logs[@]}"; do echo "franz-go: $f tail:" >&2; tail -n 40 "$f" >&2; done
  exit "$status"
fi
# A -run pattern that matches nothing passes silently; insist that every allowlisted test ran and passed.
missing=0
for t in ${allow//|/ }; do
  grep -q -- "^--- PASS: $t " "$scratch/go-test.log" || { echo "franz-go: $t did not run and pass" >&2; missing=1; }
done
((missing == 0)) || exit 1
on=""; if ((nodes > 1)); then on=" on $nodes nodes"; fi
if ((rf > 1)); then on="$on, replication factor $rf"; fi
echo "franz-go: $(grep -c '^--- PASS' "$scratch/go-test.log") allowlisted kgo tests passed$on" >&2

# Our own check (txn/, its own module on the same franz-go version): a transactional producer fails fast, since the
# broker has no transaction coordinator. Runs with the allowlist, not with extra `go test` flags, and not against Kafka.
if (($# == 0)) && [[ "${TRIBUTARY_COMPAT_SYSTEM:-tributary}" == tributary ]]; then
  grep -q "github.com/twmb/franz-go $FRANZ_GO_VERSION\$" "$here/txn/go.mod" ||
    { echo "franz-go: txn/go.mod does not require franz-go $FRANZ_GO_VERSION (versions.env); update it" >&2; exit 1; }
  txn_status=0
  (cd "$here/txn" && GOFLAGS=-mod=readonly go test -count=1 -v ./...) >"$scratch/txn-test.log" 2>&1 || txn_status=$?
  grep -E '^(--- |ok |FAIL)|failed after' "$scratch/txn-test.log" || true
  if ((txn_status != 0)); then
    echo "franz-go: the transactional producer check failed ($txn_status):" >&2
    tail -n 40 "$scratch/txn-test.log" >&2
    exit "$txn_status"
  fi
  echo "franz-go: a transactional producer fails fast" >&2
fi
