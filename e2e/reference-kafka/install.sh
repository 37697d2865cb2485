#!/usr/bin/env bash
# Installs Apache Kafka (server + kafka-tools) from Maven Central jars into ~/.cache/tributary/kafka/<version>/libs.
# Idempotent: when the stamp matches pom.xml, it does nothing. Prints the libs directory on stdout.
#   install.sh --check   installs nothing: prints the libs directory if installed, else says so and exits 1
#                        (for tests, which must fail clearly rather than download 125 MB mid-run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

want="$(sha256sum "$REFERENCE_KAFKA_DIR/pom.xml" | cut -d' ' -f1)"
if [[ -f "$KAFKA_STAMP" && "$(cat "$KAFKA_STAMP")" == "$want" && -d "$KAFKA_LIBS" ]]; then
  echo "$KAFKA_LIBS"
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  echo "reference-kafka: Apache Kafka $KAFKA_VERSION is not installed in $KAFKA_LIBS: run make reference-kafka" >&2
  exit 1
fi

command -v mvn >/dev/null || { echo "reference-kafka: mvn (Apache Maven) is required" >&2; exit 1; }
command -v java >/dev/null || { echo "reference-kafka: java 17+ is required" >&2; exit 1; }
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if ((${java_major%%.*} < 17)); then
  echo "reference-kafka: Kafka $KAFKA_VERSION needs Java 17+, found $java_major" >&2
  exit 1
fi

echo "reference-kafka: resolving Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS" >&2
mkdir -p "$KAFKA_HOME"
staging="$(mktemp -d "$KAFKA_HOME/.libs.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mvn -B -q -Dstyle.color=never -f "$REFERENCE_KAFKA_DIR/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$staging" >&2
for jar in kafka_2.13 kafka-tools kafka-shell kafka-clients kafka-server kafka-storage; do
  [[ -f "$staging/$jar-$KAFKA_VERSION.jar" ]] || { echo "reference-kafka: $jar-$KAFKA_VERSION.jar missing" >&2; exit 1; }
done
rm -rf "$KAFKA_LIBS"
mv "$staging" "$KAFKA_LIBS"
trap - EXIT
echo "$want" >"$KAFKA_STAMP"
echo "reference-kafka: installed $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars" >&2
echo "$KAFKA_LIBS"
