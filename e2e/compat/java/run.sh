#!/usr/bin/env bash
# Runs the kafka-clients conformance suite with Maven, online: Maven Central is reachable wherever `make test` runs,
# and an offline run (`mvn -o`) after a warm-up failed on a fresh machine because Surefire loads jars at run time that
# no warm-up resolves (issue 10). Maven downloads only what its local repository lacks (~/.m2, or
# MAVEN_OPTS=-Dmaven.repo.local=...), so a warm run does not touch the network for the pinned versions in pom.xml.
# Needs Java 17+ and Maven, and the broker built (`npx tsc -b`; `make compat-java` does both).
# TRIBUTARY_COMPAT_NODES=3 runs every test against a 3-node cluster started by broker/test/support/cluster-cli.ts (needs
# `npm ci`), the ones tagged cluster-only included; without it every test but those runs on one broker.
# TRIBUTARY_COMPAT_RF (1 unless set) is the replication factor of the cluster's topics, and TRIBUTARY_COMPAT_SYSTEM=kafka
# runs the same tests against a cluster of the reference Apache Kafka (`make reference-kafka`), for comparison.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v mvn >/dev/null || { echo "compat-java: mvn (Apache Maven) is required" >&2; exit 1; }
rm -rf target/surefire-reports
nodes="${TRIBUTARY_COMPAT_NODES:-1}"
[[ "$nodes" =~ ^[1-9]$ ]] || { echo "compat-java: TRIBUTARY_COMPAT_NODES must be 1..9, not $nodes" >&2; exit 2; }
rf="${TRIBUTARY_COMPAT_RF:-1}"
[[ "$rf" =~ ^[1-9]$ ]] && ((rf <= nodes)) ||
  { echo "compat-java: TRIBUTARY_COMPAT_RF must be 1..$nodes (TRIBUTARY_COMPAT_NODES), not $rf" >&2; exit 2; }
if ((nodes > 1)); then
  select=("-Dtributary.nodes=$nodes" "-Dtributary.rf=$rf" "-Dtributary.system=${TRIBUTARY_COMPAT_SYSTEM:-tributary}")
else
  select=("-DexcludedGroups=cluster-only")
fi
status=0
mvn -q -B test "${select[@]}" "$@" || status=$?
# Surefire is quiet under -q; print the plain closing line from its reports.
NODES="$nodes" RF="$rf" python3 - <<'PY'
import glob
import os
import xml.etree.ElementTree as ET

total = failed = skipped = 0
for path in glob.glob("target/surefire-reports/TEST-*.xml"):
    suite = ET.parse(path).getroot()
    total += int(suite.get("tests", 0))
    failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
on = f" on {os.environ['NODES']} nodes" if os.environ["NODES"] != "1" else ""
if os.environ["RF"] != "1":
    on += f", replication factor {os.environ['RF']}"
print(f"compat-java{on}: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
