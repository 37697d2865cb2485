// Dynamic broker configs (PURE): the spec.config keys a running broker takes without a restart (the broker's own list,
// @tributary/broker/dynamic-broker-keys) stay out of the restart hash and are applied to the cluster-wide broker
// resource ("") with IncrementalAlterConfigs. The spec is their source of truth at that level: a dynamic key set there
// that spec.config does not name is deleted (per-broker overrides, such as reassignment throttles, are left alone).
import { DYNAMIC_BROKER_CONFIG_KEYS } from "@tributary/broker/dynamic-broker-keys";

export const DYNAMIC_KEYS: ReadonlySet<string> = new Set(DYNAMIC_BROKER_CONFIG_KEYS);

export interface ConfigOp {
  name: string;
  op: "set" | "delete";
  value?: string;
}

/** The keys of a rendered config that need a restart to take effect (the ones the restart hash covers). */
export function restartKeys(config: ReadonlyMap<string, string>, dynamic = DYNAMIC_KEYS): Map<string, string> {
  return new Map([...config].filter(([k]) => !dynamic.has(k)));
}

/** The dynamic keys of spec.config, as strings. */
export function dynamicConfigOf(
  config: Readonly<Record<string, unknown>> | undefined,
  dynamic = DYNAMIC_KEYS,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config ?? {})
      .filter(([k]) => dynamic.has(k))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, String(v)]),
  );
}

/**
 * The cluster-wide key the controller refuses to delete while eligible leader replicas (KIP-966) are on: it writes
 * one when ELR is turned on, at format (the default for a new cluster) or later, as Kafka 4.x does.
 */
export const ELR_PINNED_KEY = "min.insync.replicas";

/**
 * What brings the cluster-wide dynamic broker configs from `current` to `desired`: empty when they agree. With `elr`
 * (eligible leader replicas on) a cluster-wide min.insync.replicas the spec does not name is left as it is.
 */
export function dynamicConfigOps(
  desired: Readonly<Record<string, string>>,
  current: ReadonlyMap<string, string>,
  dynamic = DYNAMIC_KEYS,
  elr = false,
): ConfigOp[] {
  const ops: ConfigOp[] = [];
  for (const [name, value] of Object.entries(desired)) {
    if (current.get(name) !== value) ops.push({ name, op: "set", value });
  }
  for (const name of [...current.keys()].sort()) {
    if (dynamic.has(name) && !(name in desired) && !(elr && name === ELR_PINNED_KEY)) ops.push({ name, op: "delete" });
  }
  return ops;
}

/**
 * The metadata.version level to finalize after a roll, if any: the highest the brokers support, when above the
 * finalized one. Unknown levels (a broker that reports no features) change nothing; nothing is ever lowered. Only
 * metadata.version moves: other features, eligible.leader.replicas.version among them, keep the levels the cluster
 * finalized (a new cluster starts with ELR on; an older one that was formatted without it keeps it off until
 * `kafka-features upgrade --feature eligible.leader.replicas.version=1`), as Kafka's own metadata upgrade does.
 */
export function metadataVersionTarget(
  finalized: number | undefined,
  supported: number | undefined,
): number | undefined {
  if (finalized === undefined || supported === undefined) return undefined;
  return supported > finalized ? supported : undefined;
}
