// The event filter of primary kinds: a status write (the reconciler's own) is no reason for another pass; any other
// change is.
import { describe, expect, it } from "vitest";
import { jsonEqual, onlyStatusChanged } from "../../src/kube/equality.ts";
import type { KubeObject } from "../../src/kube/types.ts";

const base: KubeObject = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  metadata: { name: "c", namespace: "ns", resourceVersion: "1", generation: 1, labels: { a: "1" } },
  spec: { replicas: 3 },
  status: { observedGeneration: 1 },
};
const managed = (time: string) => [{ manager: "tributary-operator", operation: "Update", subresource: "status", time }];

describe("onlyStatusChanged", () => {
  it("is true for a status write: new status, resourceVersion and managedFields", () => {
    const prev = { ...base, metadata: { ...base.metadata, managedFields: managed("t0") } };
    const next = {
      ...base,
      metadata: { ...base.metadata, resourceVersion: "2", managedFields: managed("t1") },
      status: { observedGeneration: 1, conditions: [] },
    };
    expect(onlyStatusChanged(prev, next)).toBe(true);
  });

  it("is false for a spec change, a metadata change or a deletion mark", () => {
    const at = (over: Partial<KubeObject>) => onlyStatusChanged(base, { ...base, ...over });
    expect(at({ spec: { replicas: 4 } })).toBe(false);
    expect(at({ metadata: { ...base.metadata, labels: { a: "2" } } })).toBe(false);
    expect(at({ metadata: { ...base.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } })).toBe(false);
    expect(at({ metadata: { ...base.metadata, generation: 2 } })).toBe(false);
  });
});

describe("jsonEqual", () => {
  it("ignores key order and undefined members", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: undefined }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});
