// Status of a KafkaTopic (PURE): from the outcome of one pass to the status subresource, with set-condition semantics
// (lastTransitionTime moves only when a status flips), so a pass that changes nothing produces an identical status and
// no write. Ready says whether Kafka's topic matches the spec; Warning carries what the operator refused and why.
import type { KafkaTopicStatus } from "../../api/v1alpha1/index.ts";
import type { Condition } from "../../kube/index.ts";
import { Conditions } from "../pipeline.ts";

export interface Refusal {
  reason: string;
  message: string;
}

export type Outcome =
  | { kind: "invalid"; refusal: Refusal; topicName?: string }
  | { kind: "unmanaged"; topicName: string }
  | { kind: "conflict"; topicName: string; winner: string }
  | { kind: "clusterMissing"; topicName: string; cluster: string }
  | { kind: "failed"; topicName: string; message: string }
  | {
      kind: "reconciled";
      topicName: string;
      /** Kafka's base64 topic id. */
      topicId?: string;
      partitions?: number;
      /** Parts of the spec Kafka was not brought to (the rest was). */
      refusals: Refusal[];
      /** Work in progress (a reassignment), to be looked at again. */
      progressing?: Refusal;
    };

export function computeTopicStatus(
  previous: KafkaTopicStatus,
  outcome: Outcome,
  generation: number,
  now: Date,
): KafkaTopicStatus {
  const conditions = new Conditions(previous.conditions as Condition[] | undefined, generation, now);
  const set = conditions.set.bind(conditions);
  const noWarning = (): void => conditions.warnings([]);
  const warn = (r: Refusal): void => conditions.warnings([r]);
  const fields: Partial<KafkaTopicStatus> = {};
  switch (outcome.kind) {
    case "invalid":
      set({ type: "Ready", status: "False", ...outcome.refusal });
      warn(outcome.refusal);
      break;
    case "unmanaged":
      set({
        type: "Ready",
        status: "Unknown",
        reason: "Unmanaged",
        message: `Annotation tributary.dev/managed=false: the operator leaves topic ${outcome.topicName} alone.`,
      });
      noWarning();
      break;
    case "conflict": {
      const r = {
        reason: "ResourceConflict",
        message:
          `Topic ${outcome.topicName} is managed by KafkaTopic ${outcome.winner} (the oldest resource naming it); ` +
          "this one changes nothing in Kafka and deleting it does not delete the topic.",
      };
      set({ type: "Ready", status: "False", ...r });
      warn(r);
      break;
    }
    case "clusterMissing":
      set({
        type: "Ready",
        status: "False",
        reason: "ClusterNotFound",
        message: `KafkaCluster ${outcome.cluster} does not exist in this namespace.`,
      });
      noWarning();
      break;
    case "failed":
      set({ type: "Ready", status: "False", reason: "KafkaUnavailable", message: outcome.message });
      break;
    case "reconciled": {
      if (outcome.partitions !== undefined) fields.partitions = outcome.partitions;
      if (outcome.topicId !== undefined) fields.topicId = outcome.topicId;
      const [first] = outcome.refusals;
      if (first !== undefined) {
        set({ type: "Ready", status: "False", ...first });
        conditions.warnings(outcome.refusals);
      } else if (outcome.progressing !== undefined) {
        set({ type: "Ready", status: "False", ...outcome.progressing });
        noWarning();
      } else {
        set({
          type: "Ready",
          status: "True",
          reason: "TopicReady",
          message: `Topic ${outcome.topicName} matches the spec.`,
        });
        noWarning();
      }
      break;
    }
  }
  const topicName = outcome.topicName ?? previous.topicName;
  // A pass that learned nothing new about the topic (a failure, a refusal) keeps what earlier passes recorded.
  const keep = outcome.kind === "failed" || outcome.kind === "reconciled";
  return {
    ...(keep ? previous : {}),
    observedGeneration: generation,
    conditions: conditions.ordered(["Ready", "Warning"]),
    ...(topicName === undefined ? {} : { topicName }),
    ...fields,
  };
}
