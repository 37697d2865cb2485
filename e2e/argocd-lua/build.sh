#!/usr/bin/env bash
# Builds e2e/argocd-lua (Argo CD's health-script runtime, gopher-lua, from the Go module proxy) and prints the path of
# the binary. Module and build caches live under ~/.cache/tributary/go like the other Go tools of the project, so a
# fresh machine needs nothing but Go; `go build` relinks only when main.go, go.mod or go.sum changed (about 0.2 s
# otherwise), so the test (operator/test/argocd/health.test.ts) runs this every time and never uses a stale binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null || { echo "argocd-lua: Go is required (go.dev/dl)" >&2; exit 1; }
cache="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
out="$cache/argocd-lua/argocd-lua"
mkdir -p "$(dirname "$out")"
cd "$here"
GOMODCACHE="${TRIBUTARY_GOMODCACHE:-$cache/go/mod}" GOCACHE="${TRIBUTARY_GOCACHE:-$cache/go/build}" \
  GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 nice -n 19 go build -trimpath -o "$out" .
echo "$out"
