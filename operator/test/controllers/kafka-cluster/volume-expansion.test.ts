// The volume-expansion planner: claims grow only through an expandable StorageClass, the StatefulSet is re-created by
// orphan deletion for a larger template, a shrink or a class without expansion changes nothing and warns, a claim grown
// out of band is never patched down, and a pod is restarted only for FileSystemResizePending.
import { describe, expect, it } from "vitest";
import { desired } from "../../../src/controllers/kafka-cluster/desired.ts";
import {
  claimPhase,
  planStorage,
  storageProgress,
  type ClaimView,
  type StorageClassView,
  type StoragePlanInput,
} from "../../../src/controllers/kafka-cluster/volume-expansion.ts";
import { KafkaClusterSpec, type KafkaClusterSpecInput } from "../../../src/api/v1alpha1/index.ts";
import type { KubeObject } from "../../../src/kube/index.ts";

const OWNER = { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaCluster", name: "c", uid: "u", controller: true };

function objects(size: string, extra: Partial<KafkaClusterSpecInput> = {}): KubeObject[] {
  const spec = KafkaClusterSpec.parse({
    replicas: 3,
    storage: { type: "persistent-claim", size, class: "fast" },
    ...extra,
  });
  return desired({ name: "c", namespace: "ns", uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", spec }, OWNER).objects;
}

function sts(objs: readonly KubeObject[], uid = "sts-uid", deleting = false): KubeObject {
  const found = objs.find((o) => o.kind === "StatefulSet" && o.metadata.name === "c-broker");
  if (found === undefined) throw new Error("no c-broker StatefulSet");
  return {
    ...found,
    metadata: { ...found.metadata, uid, ...(deleting ? { deletionTimestamp: "2026-12-06T12:00:00Z" } : {}) },
  };
}

function claim(ordinal: number, requested: string, more: Partial<ClaimView> = {}): ClaimView {
  return {
    name: `data-c-broker-${ordinal}`,
    requested,
    capacity: requested,
    storageClassName: "fast",
    phase: "Bound",
    conditions: [],
    ...more,
  };
}

function input(
  size: string,
  existingSize: string | undefined,
  claims: readonly ClaimView[],
  more: Partial<StoragePlanInput> & { expandable?: boolean | null } = {},
): StoragePlanInput {
  const existing = existingSize === undefined ? undefined : sts(objects(existingSize));
  const classes = new Map<string, StorageClassView | null>();
  if (more.expandable !== undefined) {
    classes.set("fast", more.expandable === null ? null : { allowVolumeExpansion: more.expandable });
  }
  return {
    objects: objects(size),
    existing: (name) => (name === "c-broker" ? existing : undefined),
    claims: new Map(claims.map((c) => [c.name, c])),
    podCreated: new Map([0, 1, 2].map((i) => [`c-broker-${i}`, "2026-12-06T11:00:00Z"])),
    classes,
    ...more,
  };
}

const templateSize = (objs: readonly KubeObject[]): unknown =>
  (
    sts(objs).spec as {
      volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[];
    }
  ).volumeClaimTemplates[0]?.spec.resources.requests.storage;

const three = (size: string, more: Partial<ClaimView> = {}) => [0, 1, 2].map((i) => claim(i, size, more));

describe("planStorage", () => {
  it("changes nothing when the size is unchanged (1024Mi and 1Gi are one size)", () => {
    const plan = planStorage(input("1024Mi", "1Gi", three("1Gi")));
    expect(plan).toMatchObject({ patches: [], recreate: [], skipApply: [], warnings: [], lookup: [], waiting: false });
    expect(plan.restarts.size).toBe(0);
    expect(plan.claims.map((c) => c.phase)).toEqual(["Bound", "Bound", "Bound"]);
  });

  it("asks for the StorageClass before growing anything", () => {
    const plan = planStorage(input("2Gi", "1Gi", three("1Gi")));
    expect(plan.lookup).toEqual(["fast"]);
    expect(plan.patches).toEqual([]);
    expect(plan.recreate).toEqual([]);
    expect(templateSize(plan.objects)).toBe("1Gi");
  });

  it("grows every claim and re-creates the StatefulSet when the class allows expansion", () => {
    const plan = planStorage(input("2Gi", "1Gi", three("1Gi"), { expandable: true }));
    expect(plan.patches).toEqual([0, 1, 2].map((i) => ({ claim: `data-c-broker-${i}`, size: "2Gi" })));
    expect(plan.recreate).toEqual([{ name: "c-broker", uid: "sts-uid", from: "1Gi", to: "2Gi" }]);
    expect(plan.skipApply).toEqual(["c-broker"]);
    expect(templateSize(plan.objects)).toBe("2Gi");
    expect(plan.claims.map((c) => [c.requested, c.capacity, c.phase])).toEqual(
      [0, 1, 2].map(() => ["2Gi", "1Gi", "Resizing"]),
    );
    expect(plan.waiting).toBe(true);
    // Nothing restarts for the expansion itself.
    expect(plan.restarts.size).toBe(0);
  });

  it("refuses to grow through a class without allowVolumeExpansion, or one that does not exist: nothing resized", () => {
    for (const [expandable, why] of [
      [false, "StorageClass fast has no allowVolumeExpansion"],
      [null, "StorageClass fast does not exist"],
    ] as const) {
      const plan = planStorage(input("2Gi", "1Gi", three("1Gi"), { expandable }));
      expect(plan.patches).toEqual([]);
      expect(plan.recreate).toEqual([]);
      expect(plan.skipApply).toEqual([]);
      expect(templateSize(plan.objects)).toBe("1Gi");
      expect(plan.warnings).toEqual([
        {
          reason: "StorageExpansionUnsupported",
          message: expect.stringContaining(`data-c-broker-0 (${why})`) as unknown,
        },
      ]);
    }
    const none = planStorage(input("2Gi", "1Gi", three("1Gi", { storageClassName: undefined })));
    expect(none.lookup).toEqual([]);
    expect(none.warnings[0]?.message).toContain("data-c-broker-2 (no StorageClass)");
  });

  it("refuses a shrink with a Warning: the template keeps its size and no claim is touched", () => {
    const plan = planStorage(input("1Gi", "2Gi", three("2Gi"), { expandable: true }));
    expect(plan.patches).toEqual([]);
    expect(plan.recreate).toEqual([]);
    expect(templateSize(plan.objects)).toBe("2Gi");
    expect(plan.warnings).toEqual([
      {
        reason: "StorageShrinkRefused",
        message:
          "spec.storage.size 1Gi is smaller than the 2Gi of StatefulSet c-broker's claims: volumes cannot shrink, so " +
          "the storage is kept as it is and the rest of the spec is applied. Set spec.storage.size to 2Gi or more to " +
          "clear this warning.",
      },
    ]);
  });

  it("keeps a claim grown out of band as its floor: never patched down, no warning", () => {
    const claims = [claim(0, "5Gi"), claim(1, "2Gi"), claim(2, "1Gi")];
    const plan = planStorage(input("2Gi", "2Gi", claims, { expandable: true }));
    // Only the one below the spec grows (a patch that failed half way, say); the StatefulSet stays.
    expect(plan.patches).toEqual([{ claim: "data-c-broker-2", size: "2Gi" }]);
    expect(plan.recreate).toEqual([]);
    expect(plan.warnings).toEqual([]);
    expect(plan.claims[0]).toEqual({
      name: "data-c-broker-0",
      requested: "5Gi",
      capacity: "5Gi",
      phase: "Bound",
      message: "larger than spec.storage.size 2Gi (grown out of band): kept, never shrunk",
    });
    // And a later growth of the spec leaves it alone too.
    const later = planStorage(input("3Gi", "2Gi", claims, { expandable: true }));
    expect(later.patches.map((p) => p.claim)).toEqual(["data-c-broker-1", "data-c-broker-2"]);
    expect(later.recreate.map((r) => r.to)).toEqual(["3Gi"]);
  });

  it("waits for an unbound claim instead of patching it (the API server lets only Bound claims grow)", () => {
    const plan = planStorage(
      input("2Gi", "1Gi", [claim(0, "1Gi"), claim(1, "1Gi", { phase: "Pending", capacity: undefined })], {
        expandable: true,
      }),
    );
    expect(plan.patches.map((p) => p.claim)).toEqual(["data-c-broker-0"]);
    expect(plan.claims[1]).toMatchObject({ name: "data-c-broker-1", phase: "Pending" });
    expect(plan.waiting).toBe(true);
  });

  it("does not apply a StatefulSet that is being deleted, and re-creates it once it is gone", () => {
    const deleting = sts(objects("1Gi"), "sts-uid", true);
    const plan = planStorage({ ...input("2Gi", undefined, three("2Gi")), existing: () => deleting });
    expect(plan.skipApply).toEqual(["c-broker"]);
    expect(plan.recreate).toEqual([]);
    expect(plan.waiting).toBe(true);
    const gone = planStorage(input("2Gi", undefined, three("2Gi")));
    expect(gone.skipApply).toEqual([]);
    expect(templateSize(gone.objects)).toBe("2Gi");
  });

  it("restarts a pod only when its claim reports FileSystemResizePending, and not a pod started since", () => {
    const pending = (since: string): Partial<ClaimView> => ({
      requested: "2Gi",
      capacity: "1Gi",
      conditions: [{ type: "FileSystemResizePending", status: "True", lastTransitionTime: since }],
    });
    const claims = [
      claim(0, "2Gi", { capacity: "1Gi" }),
      claim(1, "2Gi", pending("2026-12-06T12:00:00Z")),
      claim(2, "2Gi", pending("2026-12-06T10:00:00Z")),
    ];
    const plan = planStorage(input("2Gi", "2Gi", claims));
    expect([...plan.restarts]).toEqual([
      ["c-broker-1", "volume data-c-broker-1 waits for a filesystem resize (FileSystemResizePending)"],
    ]);
    expect(plan.claims.map((c) => c.phase)).toEqual(["Resizing", "FileSystemResizePending", "FileSystemResizePending"]);
    expect(plan.waiting).toBe(true);
  });

  it("refuses a change of storage type or class as a whole", () => {
    const ephemeral = objects("1Gi", { storage: { type: "ephemeral" } });
    const fromPersistent = planStorage({ ...input("1Gi", "1Gi", []), objects: ephemeral });
    expect(fromPersistent.invalid?.reason).toBe("StorageTypeChange");
    const otherClass = objects("1Gi", { storage: { type: "persistent-claim", size: "1Gi", class: "slow" } });
    const plan = planStorage({ ...input("1Gi", "1Gi", []), objects: otherClass });
    expect(plan.invalid?.reason).toBe("StorageClassChange");
    expect(plan.invalid?.message).toContain("spec.storage.class slow differs from StatefulSet c-broker's fast");
  });
});

describe("claimPhase", () => {
  it("reads the resizer's error conditions", () => {
    const failed = claimPhase(
      claim(0, "2Gi", {
        capacity: "1Gi",
        conditions: [{ type: "ControllerResizeError", status: "True", message: "quota exceeded" }],
      }),
    );
    expect(failed).toEqual({ phase: "ResizeFailed", message: "quota exceeded" });
    expect(claimPhase(claim(0, "2Gi", { capacity: "2Gi" }))).toEqual({ phase: "Bound" });
  });
});

describe("storageProgress", () => {
  it("says which volumes grow and which StatefulSets wait for their re-creation", () => {
    const claims = planStorage(input("2Gi", "1Gi", [claim(0, "1Gi")], { expandable: true })).claims;
    expect(storageProgress(claims, ["c-broker"])).toBe(
      "Expanding volumes: data-c-broker-0 1Gi -> 2Gi (Resizing); re-creating StatefulSet c-broker for the new claim " +
        "size (orphan deletion in progress)",
    );
    expect(storageProgress([], [])).toBeUndefined();
  });
});
