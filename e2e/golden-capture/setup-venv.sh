#!/usr/bin/env bash
# Creates ~/.cache/tributary/venv with confluent-kafka (librdkafka bundled in its wheel) from PyPI; a no-op once done.
# Prints the venv's python on stdout.
set -euo pipefail
CONFLUENT_KAFKA_VERSION=2.16.1
venv="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/venv"
stamp="$venv/.confluent-kafka-$CONFLUENT_KAFKA_VERSION"
if [[ ! -f "$stamp" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "confluent-kafka==$CONFLUENT_KAFKA_VERSION" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
