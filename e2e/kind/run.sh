#!/usr/bin/env bash
# make e2e KIND=1: create (or reuse) the kind cluster, load our images, run the tier-3 suites against it, delete it.
# Needs docker and kind on PATH (go install sigs.k8s.io/kind@v0.31.0) and the images from `make image`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
NAME=tributary-e2e
KUBECONFIG_FILE="$REPO/e2e/artifacts/kind-kubeconfig"
command -v kind >/dev/null || {
  echo "kind is not installed: go install sigs.k8s.io/kind@v0.31.0" >&2
  exit 1
}
mkdir -p "$REPO/e2e/artifacts"
kind get clusters 2>/dev/null | grep -qx "$NAME" || kind create cluster --name "$NAME" --config "$HERE/cluster.yaml" --wait 120s
kind get kubeconfig --name "$NAME" >"$KUBECONFIG_FILE"
for image in broker e2e-client operator; do
  archive="$REPO/.cache/images/$image.oci.tar"
  [[ -f "$archive" ]] && kind load image-archive "$archive" --name "$NAME"
done
status=0
TRIBUTARY_E2E_KUBECONFIG="$KUBECONFIG_FILE" npx vitest run --config e2e/test/vitest.e2e.config.ts \
  e2e/test/cluster-local.e2e.ts e2e/test/smoke.e2e.ts || status=$?
if [[ $status != 0 ]]; then kind export logs "$REPO/e2e/artifacts/kind-logs" --name "$NAME" || true; fi
[[ "${KEEP_KIND:-}" == 1 ]] || kind delete cluster --name "$NAME"
exit $status
