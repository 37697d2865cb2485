#!/usr/bin/env bash
# Installs kcat from Debian packages (a no-op when present) and the pytest venv the kcat tests run in (shared with the
# librdkafka suite). Prints the venv's python on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v kcat >/dev/null; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2
fi
kcat -V >&2
"$here/../librdkafka/setup.sh"
