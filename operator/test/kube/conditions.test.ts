import { describe, expect, it } from "vitest";
import { rfc3339, setCondition } from "../../src/kube/conditions.ts";
import { controllerRef, ownerKey } from "../../src/kube/owner-refs.ts";

describe("setCondition", () => {
  const t0 = new Date("2026-01-01T00:00:00.123Z");
  const t1 = new Date("2026-01-01T00:05:00Z");

  it("adds a condition with the transition time in whole seconds", () => {
    const c = setCondition([], { type: "Ready", status: "False", reason: "Creating", message: "m" }, t0);
    expect(c).toEqual([
      { type: "Ready", status: "False", reason: "Creating", message: "m", lastTransitionTime: "2026-01-01T00:00:00Z" },
    ]);
  });

  it("keeps lastTransitionTime when only reason or message change, and moves it when the status flips", () => {
    const a = setCondition([], { type: "Ready", status: "False", reason: "Creating", message: "m" }, t0);
    const b = setCondition(a, { type: "Ready", status: "False", reason: "Rolling", message: "other" }, t1);
    expect(b[0]?.lastTransitionTime).toBe(rfc3339(t0));
    expect(b[0]?.reason).toBe("Rolling");
    const c = setCondition(b, { type: "Ready", status: "True", reason: "Ready", message: "" }, t1);
    expect(c[0]?.lastTransitionTime).toBe(rfc3339(t1));
    expect(a[0]?.reason).toBe("Creating");
  });

  it("keeps one entry per type in insertion order", () => {
    let c = setCondition([], { type: "Ready", status: "False", reason: "A", message: "" }, t0);
    c = setCondition(c, { type: "Warning", status: "True", reason: "B", message: "" }, t0);
    c = setCondition(c, { type: "Ready", status: "True", reason: "C", message: "" }, t1);
    expect(c.map((x) => x.type)).toEqual(["Ready", "Warning"]);
  });
});

describe("owner references", () => {
  const owner = { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaCluster", metadata: { name: "c", uid: "u1" } };

  it("builds a controller reference that blocks owner deletion", () => {
    expect(controllerRef(owner)).toEqual({
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaCluster",
      name: "c",
      uid: "u1",
      controller: true,
      blockOwnerDeletion: true,
    });
    expect(() => controllerRef({ ...owner, metadata: { name: "c" } })).toThrow(/no uid/);
  });

  it("maps an owned object to its owner's key, ignoring non-controller references", () => {
    const owned = { metadata: { name: "x", namespace: "ns", ownerReferences: [controllerRef(owner)] } };
    expect(ownerKey(owned, "tributary.dev", "KafkaCluster")).toBe("ns/c");
    const other = {
      metadata: { name: "x", namespace: "ns", ownerReferences: [{ ...controllerRef(owner), controller: false }] },
    };
    expect(ownerKey(other, "tributary.dev", "KafkaCluster")).toBeUndefined();
  });
});
