#!/usr/bin/env bash
# Fetches the pinned kafka-clients, JUnit and Maven plugins from Maven Central into ~/.m2 (a no-op once done), then
# runs the suite offline (`mvn -q -o test`). Needs Java 17+ and Maven, and the broker built (`npx tsc -b`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
stamp="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/compat-java-offline-$(sha256sum pom.xml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  # go-offline misses what plugins load at run time (maven-filtering, Surefire's JUnit Platform provider), so the
  # build is also warmed up online and the provider fetched by name.
  mvn -q -B dependency:go-offline test-compile
  surefire=$(sed -n 's:.*<surefire.version>\(.*\)</surefire.version>.*:\1:p' pom.xml)
  mvn -q -B dependency:get -Dartifact="org.apache.maven.surefire:surefire-junit-platform:$surefire"
  mvn -q -B dependency:get -Dartifact=org.junit.platform:junit-platform-launcher:1.11.4
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
rm -rf target/surefire-reports
status=0
mvn -q -B -o test "$@" || status=$?
# Surefire is quiet under -q; print the plain closing line from its reports.
python3 - <<'PY'
import glob
import xml.etree.ElementTree as ET

total = failed = skipped = 0
for path in glob.glob("target/surefire-reports/TEST-*.xml"):
    suite = ET.parse(path).getroot()
    total += int(suite.get("tests", 0))
    failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
print(f"compat-java: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
