#!/usr/bin/env bash
# Builds the pinned Kubernetes test binaries from the Go module proxy into a cache outside the repository.
#
#   e2e/k8s-tools/build.sh [TIER]      TIER = api | sim | local | all (default all)
#
# Output: ${TRIBUTARY_K8S_CACHE:-${TRIBUTARY_CACHE:-~/.cache/tributary}/k8s}/<K8S_VERSION>/bin
# Each binary is rebuilt only when its stamp (tool version + hash of its wrapper module's go.mod/go.sum + build flags)
# changed, so a second run is a no-op. With TRIBUTARY_K8S_BIN set, nothing is built: the script only checks that the
# directory holds the binaries the tier needs (bring your own binaries, as envtest's KUBEBUILDER_ASSETS).
#
# The Go module and build caches live under ~/.cache/tributary/go so that CI can cache ~/.cache between runs.
# Builds run one binary at a time under `nice -n 19` because the machines are shared.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

TIER="${1:-all}"
case "$TIER" in
  api) WANT=(etcd kube-apiserver kubectl) ;;
  sim) WANT=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok) ;;
  local | all) WANT=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok kubelet kube-proxy coredns helm pause) ;;
  *)
    echo "usage: $0 [api|sim|local|all]" >&2
    exit 2
    ;;
esac

log() { printf '[k8s-tools] %s\n' "$*" >&2; }

if [[ -n "${TRIBUTARY_K8S_BIN:-}" ]]; then
  missing=0
  for b in "${WANT[@]}"; do
    if [[ ! -x "$TRIBUTARY_K8S_BIN/$b" ]]; then
      log "TRIBUTARY_K8S_BIN=$TRIBUTARY_K8S_BIN has no executable '$b'"
      missing=1
    fi
  done
  [[ $missing == 0 ]] || exit 1
  log "using binaries from TRIBUTARY_K8S_BIN=$TRIBUTARY_K8S_BIN (nothing built)"
  exit 0
fi

TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
CACHE_ROOT="${TRIBUTARY_K8S_CACHE:-$TRIBUTARY_CACHE/k8s}"
OUT="$CACHE_ROOT/$K8S_VERSION/bin"
mkdir -p "$OUT"
# One build at a time per cache: two clones building at once (a CI run beside a developer's make e2e) would write the
# same temporary files. The second waits, then finds every binary up to date.
exec {build_lock}>"$OUT/.build.lock"
flock "$build_lock"

export GOMODCACHE="${TRIBUTARY_GOMODCACHE:-$TRIBUTARY_CACHE/go/mod}"
export GOCACHE="${TRIBUTARY_GOCACHE:-$TRIBUTARY_CACHE/go/build}"
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOMAXPROCS="${GOMAXPROCS:-2}"

command -v go >/dev/null || {
  log "go is not installed (need Go >= 1.26, see docs/testing.md)"
  exit 1
}

# mod_time MODULE VERSION -> RFC 3339 commit time from the proxy's .info (reproducible build date)
mod_time() {
  (cd "$HERE/$3" && go mod download -json "$1@$2" | sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' | head -1)
}

# stamp_of DIR EXTRA -> a string that changes when the wrapper module or the build recipe changes
stamp_of() {
  cat "$HERE/$1/go.mod" "$HERE/$1/go.sum" "$HERE/build.sh" | sha256sum | cut -c1-16 | tr -d '\n'
  printf -- '-%s' "$2"
}

# build NAME WRAPPER_DIR PACKAGE VERSION CGO LDFLAGS [TAGS]
build() {
  local name=$1 dir=$2 pkg=$3 version=$4 cgo=$5 ldflags=$6 tags=${7:-}
  local stamp
  stamp="$(stamp_of "$dir" "$version")"
  if [[ -x "$OUT/$name" && -f "$OUT/.$name.stamp" && "$(cat "$OUT/.$name.stamp")" == "$stamp" ]]; then
    log "$name $version: up to date"
    return 0
  fi
  log "$name $version: building ($pkg)"
  local start=$SECONDS
  (
    cd "$HERE/$dir"
    CGO_ENABLED=$cgo nice -n 19 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$OUT/.$name.tmp" "$pkg"
  )
  mv -f "$OUT/.$name.tmp" "$OUT/$name"
  printf '%s' "$stamp" >"$OUT/.$name.stamp"
  log "$name $version: built in $((SECONDS - start)) s"
}

k8s_ldflags() {
  local date major minor ld=""
  date="$(mod_time k8s.io/kubernetes "$K8S_VERSION" kubernetes)"
  major="${K8S_VERSION#v}"
  minor="${major#*.}"
  minor="${minor%%.*}"
  major="${major%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitCommit=${K8S_COMMIT:-unknown} -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  printf '%s' "$ld"
}

want() {
  local w
  for w in "${WANT[@]}"; do [[ "$w" == "$1" ]] && return 0; done
  return 1
}

TOTAL_START=$SECONDS
K8S_TAGS="selinux,notest,grpcnotrace"
K8S_LD="$(k8s_ldflags)"
K8S_MINOR="${K8S_VERSION#v1.}"
K8S_MINOR="${K8S_MINOR%%.*}"

want etcd && build etcd etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" 0 \
  "-X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_COMMIT:-unknown}"
want kube-apiserver && build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$K8S_VERSION" 0 "$K8S_LD" "$K8S_TAGS"
want kubectl && build kubectl kubernetes k8s.io/kubernetes/cmd/kubectl "$K8S_VERSION" 0 "$K8S_LD" "$K8S_TAGS"
want kube-controller-manager && build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager \
  "$K8S_VERSION" 0 "$K8S_LD" "$K8S_TAGS"
want kube-scheduler && build kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$K8S_VERSION" 0 "$K8S_LD" "$K8S_TAGS"
want kwok && build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" 0 \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
want kubelet && build kubelet kubernetes k8s.io/kubernetes/cmd/kubelet "$K8S_VERSION" 1 "$K8S_LD" "$K8S_TAGS"
want kube-proxy && build kube-proxy kubernetes k8s.io/kubernetes/cmd/kube-proxy "$K8S_VERSION" 0 "$K8S_LD" "$K8S_TAGS"
want coredns && build coredns coredns github.com/coredns/coredns "$COREDNS_VERSION" 0 \
  "-X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_COMMIT:-unknown}"
want helm && build helm helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" 0 \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitCommit=${HELM_COMMIT:-unknown} -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
if want pause; then
  # The pause container's C source ships in the k8s.io/kubernetes module zip (build/pause/linux/pause.c).
  stamp="$(stamp_of kubernetes "$PAUSE_VERSION")"
  if [[ -x "$OUT/pause" && "$(cat "$OUT/.pause.stamp" 2>/dev/null)" == "$stamp" ]]; then
    log "pause $PAUSE_VERSION: up to date"
  else
    src="$(cd "$HERE/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
    command -v gcc >/dev/null || {
      log "gcc is needed for the pause binary (apt-get install gcc libc6-dev)"
      exit 1
    }
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$OUT/.pause.tmp" "$src"
    strip "$OUT/.pause.tmp"
    mv -f "$OUT/.pause.tmp" "$OUT/pause"
    printf '%s' "$stamp" >"$OUT/.pause.stamp"
    log "pause $PAUSE_VERSION: built"
  fi
fi

log "done in $((SECONDS - TOTAL_START)) s: $OUT"
