# Sourced by install.sh and kafka.sh: where the reference Apache Kafka lives. Not executable on its own.
# The version is the one pinned in pom.xml; the cache is outside the repository.
REFERENCE_KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REFERENCE_KAFKA_DIR/pom.xml")"
TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
KAFKA_HOME="$TRIBUTARY_CACHE/kafka/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_STAMP="$KAFKA_HOME/.installed"
