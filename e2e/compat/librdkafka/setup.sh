#!/usr/bin/env bash
# Creates ~/.cache/tributary/venv-compat with pinned confluent-kafka (librdkafka bundled in its wheel) and pytest from
# PyPI; a no-op once done. Prints the venv's python on stdout.
set -euo pipefail
CONFLUENT_KAFKA_VERSION=2.16.1
PYTEST_VERSION=8.3.5
venv="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/venv-compat"
stamp="$venv/.stamp-confluent-kafka-$CONFLUENT_KAFKA_VERSION-pytest-$PYTEST_VERSION"
if [[ ! -f "$stamp" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "confluent-kafka==$CONFLUENT_KAFKA_VERSION" "pytest==$PYTEST_VERSION" >&2
  "$venv/bin/python" -c 'import confluent_kafka' >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
