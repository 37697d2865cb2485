#!/usr/bin/env bash
# Writes an OCI image archive (an OCI image layout in a tar, as `ctr images import` and `skopeo copy oci-archive:` read)
# from directories, one layer per directory, without a registry, a daemon or root.
#
#   oci-image.sh --name docker.io/tributary/broker:dev --out broker.oci.tar \
#     --layer rootfs/ [--layer app/] [--entrypoint '["/usr/local/bin/node"]'] [--cmd '["x"]'] \
#     [--user 65532:65532] [--workdir /app] [--env K=V]... [--label K=V]...
#
# Needs tar, gzip, sha256sum, jq. Layers are gzip-compressed tars with numeric owners and clamped mtimes, so rebuilding
# the same directories gives the same digests.
set -euo pipefail

NAME="" OUT="" ENTRYPOINT="null" CMD="null" USER_ID="" WORKDIR=""
LAYERS=() ENVS=() LABELS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) NAME=$2 ;;
    --out) OUT=$2 ;;
    --layer) LAYERS+=("$2") ;;
    --entrypoint) ENTRYPOINT=$2 ;;
    --cmd) CMD=$2 ;;
    --user) USER_ID=$2 ;;
    --workdir) WORKDIR=$2 ;;
    --env) ENVS+=("$2") ;;
    --label) LABELS+=("$2") ;;
    *)
      echo "oci-image.sh: unknown argument $1" >&2
      exit 2
      ;;
  esac
  shift 2
done
[[ -n "$NAME" && -n "$OUT" && ${#LAYERS[@]} -gt 0 ]] || {
  echo "usage: oci-image.sh --name REF --out FILE --layer DIR [--layer DIR]... [options]" >&2
  exit 2
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/layout/blobs/sha256"
BLOBS="$WORK/layout/blobs/sha256"

# blob FILE -> moves FILE into the blob store and prints "<digest> <size>"
blob() {
  local digest size
  digest="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv -f "$1" "$BLOBS/$digest"
  echo "$digest $size"
}

DIFF_IDS=() LAYER_DESCS=()
for dir in "${LAYERS[@]}"; do
  tar --sort=name --numeric-owner --mtime=@0 --clamp-mtime --xattrs --xattrs-include='security.capability' \
    -C "$dir" -cf "$WORK/layer.tar" .
  DIFF_IDS+=("sha256:$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)")
  gzip -n -6 "$WORK/layer.tar"
  read -r digest size < <(blob "$WORK/layer.tar.gz")
  LAYER_DESCS+=("$(jq -cn --arg d "sha256:$digest" --argjson s "$size" \
    '{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$d,size:$s}')")
done

to_json_array() { if [[ $# -eq 0 ]]; then echo '[]'; else printf '%s\n' "$@" | jq -R . | jq -cs .; fi; }
labels_json='{}'
for kv in "${LABELS[@]}"; do labels_json="$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<<"$labels_json")"; done
created="$(jq -r '."org.opencontainers.image.created" // "1970-01-01T00:00:00Z"' <<<"$labels_json")"

jq -cn \
  --arg created "$created" \
  --arg user "$USER_ID" \
  --arg workdir "$WORKDIR" \
  --argjson entrypoint "$ENTRYPOINT" \
  --argjson cmd "$CMD" \
  --argjson env "$(to_json_array "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${ENVS[@]}")" \
  --argjson labels "$labels_json" \
  --argjson diffids "$(to_json_array "${DIFF_IDS[@]}")" \
  '{created:$created, architecture:"amd64", os:"linux",
    config:({Env:$env, Labels:$labels}
      + (if $entrypoint == null then {} else {Entrypoint:$entrypoint} end)
      + (if $cmd == null then {} else {Cmd:$cmd} end)
      + (if $user == "" then {} else {User:$user} end)
      + (if $workdir == "" then {} else {WorkingDir:$workdir} end)),
    rootfs:{type:"layers", diff_ids:$diffids},
    history:[$diffids[] | {created:$created, created_by:"e2e/image/oci-image.sh"}]}' >"$WORK/config.json"
read -r cdigest csize < <(blob "$WORK/config.json")

jq -cn --arg cd "sha256:$cdigest" --argjson cs "$csize" --argjson layers "$(printf '%s\n' "${LAYER_DESCS[@]}" | jq -cs .)" \
  --argjson labels "$labels_json" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$cd, size:$cs},
    layers:$layers, annotations:$labels}' >"$WORK/manifest.json"
read -r mdigest msize < <(blob "$WORK/manifest.json")

tag="${NAME##*:}"
jq -cn --arg md "sha256:$mdigest" --argjson ms "$msize" --arg name "$NAME" --arg tag "$tag" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$md, size:$ms,
      platform:{architecture:"amd64", os:"linux"},
      annotations:{"io.containerd.image.name":$name, "org.opencontainers.image.ref.name":$tag}}]}' \
  >"$WORK/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$WORK/layout/oci-layout"

mkdir -p "$(dirname "$OUT")"
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$WORK/layout" -cf "$OUT.tmp" .
mv -f "$OUT.tmp" "$OUT"
echo "oci-image.sh: wrote $NAME to $OUT (manifest sha256:$mdigest)" >&2
