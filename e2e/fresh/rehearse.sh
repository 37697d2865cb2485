#!/usr/bin/env bash
# Fresh-machine rehearsal (`make test-fresh`, issue 10): the README's commands from a clean clone of HEAD, with every
# user-level cache the project uses pointed at new empty directories, so that an install step that only works because
# this machine already has something fails here instead of on a new user's machine or in CI.
#
#   e2e/fresh/rehearse.sh            # make run (started, answers, stopped with SIGTERM), then make test
#   e2e/fresh/rehearse.sh --e2e      # ... then make e2e (needs root; builds every Kubernetes binary from nothing)
#   e2e/fresh/rehearse.sh --keep     # keep the scratch directory (clone, caches, logs) even when everything passed
#
# Empty caches: the project's own (TRIBUTARY_CACHE: venvs, Kubernetes binaries, Go caches of those builds, reference
# Kafka, franz-go, image bases), the Maven repository (MAVEN_OPTS=-Dmaven.repo.local; Java ignores $HOME), GOMODCACHE,
# GOCACHE and GOPATH, the npm cache, pip's cache and XDG_CACHE_HOME. System packages (kcat, containerd, debootstrap)
# are not removed: the scripts install them with apt-get when absent and leave them in place when present.
# Prints each phase's wall time; exits non-zero when a phase fails, keeping its log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
with_e2e=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --e2e) with_e2e=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--e2e] [--keep]" >&2; exit 2 ;;
  esac
done

rev="$(git -C "$repo" rev-parse HEAD)"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]]; then
  echo "test-fresh: note: uncommitted changes are not rehearsed; the clone is of HEAD ${rev:0:12}" >&2
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/tributary-fresh.XXXXXX")"
clone="$scratch/repo"
cache="$scratch/cache"
logs="$scratch/logs"
mkdir -p "$cache" "$logs"

# Nothing the developer's shell points at may leak in.
unset TRIBUTARY_K8S_BIN TRIBUTARY_K8S_CACHE TRIBUTARY_GOMODCACHE TRIBUTARY_GOCACHE TRIBUTARY_IMAGE_CACHE \
  TRIBUTARY_E2E_KUBECONFIG KGO_SEEDS GOFLAGS
export TRIBUTARY_CACHE="$cache/tributary"
export MAVEN_OPTS="-Dmaven.repo.local=$cache/m2 ${MAVEN_OPTS:-}"
export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export GOPATH="$cache/go/path"
export npm_config_cache="$cache/npm"
export PIP_CACHE_DIR="$cache/pip"
export XDG_CACHE_HOME="$cache/xdg"

phases=()
times=()
results=()
failed=0

finish() {
  echo
  echo "test-fresh: HEAD ${rev:0:12}, scratch $scratch"
  printf '  %-34s %10s  %s\n' phase wall result
  for i in "${!phases[@]}"; do
    printf '  %-34s %7dm%02ds  %s\n' "${phases[$i]}" $((times[i] / 60)) $((times[i] % 60)) "${results[$i]}"
  done
  if ((failed == 0 && keep == 0)); then
    # The Go module cache is read-only by design; make it removable first.
    chmod -R u+w "$scratch" 2>/dev/null || true
    rm -rf "$scratch"
  else
    echo "test-fresh: kept $scratch (logs in $logs)"
  fi
}
trap finish EXIT

# Runs one phase with its output in $logs/<name>.log (tail shown on failure) and records its wall time.
phase() {
  local name="$1"
  shift
  local start=$SECONDS status=0
  echo "test-fresh: [$name] $*" >&2
  "$@" >"$logs/$name.log" 2>&1 || status=$?
  phases+=("$name")
  times+=($((SECONDS - start)))
  if ((status == 0)); then
    results+=(ok)
  else
    results+=("FAILED (exit $status, log $logs/$name.log)")
    failed=1
    tail -n 60 "$logs/$name.log" >&2
  fi
  return "$status"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# `make run` from nothing: it must install, build and start the broker, which must answer on its port and stop
# cleanly on SIGTERM. Ports come from the environment (TRIBUTARY_<KEY>) so that a broker already on 9092 is no clash.
make_run() {
  local port controller_port metrics_port make_pid broker_pid="" status=0
  port="$(free_port)" controller_port="$(free_port)" metrics_port="$(free_port)"
  (
    cd "$clone"
    export TRIBUTARY_LISTENERS="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
    export TRIBUTARY_ADVERTISED_LISTENERS="PLAINTEXT://127.0.0.1:$port"
    export TRIBUTARY_CONTROLLER_QUORUM_VOTERS="1@127.0.0.1:$controller_port"
    export TRIBUTARY_METRICS_PORT="$metrics_port"
    exec make run
  ) &
  make_pid=$!
  local deadline=$((SECONDS + 1200))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$make_pid" 2>/dev/null; then
      wait "$make_pid" || status=$?
      echo "make run exited ($status) before the broker listened on $port" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "make run: no listener on $port within 20 minutes" >&2
      kill -TERM "$make_pid" 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
  echo "make run: broker answers on 127.0.0.1:$port" >&2
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:$port" -L -m 10 | head -n 5
  fi
  # Read the whole page first: grep -q stopping at its first match would make curl fail on a closed pipe.
  local metrics=""
  metrics="$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")" || true
  grep -q tributary_ <<<"$metrics" || {
    echo "make run: no tributary_ metric on :$metrics_port/metrics" >&2
    status=1
  }
  # The recipe execs node, so the broker is make's only child.
  broker_pid="$(pgrep -P "$make_pid" -f tributary-broker || true)"
  [[ -n "$broker_pid" ]] || broker_pid="$(pgrep -f "tributary-broker --config broker/config/server.properties" | head -n1)"
  kill -TERM "$broker_pid"
  local rc=0
  wait "$make_pid" || rc=$?
  echo "make run: exit code $rc after SIGTERM" >&2
  ((rc == 0)) || status=1
  return "$status"
}

phase clone git clone --quiet --no-checkout "$repo" "$clone"
phase checkout git -C "$clone" checkout --quiet --detach "$rev"
phase "make run" make_run || true
phase "make test" make -C "$clone" test || true
if ((with_e2e == 1)); then
  phase "make e2e" make -C "$clone" e2e || true
fi
exit "$failed"
