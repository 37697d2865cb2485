// Volume expansion (PURE): from the desired StatefulSets, the applied ones, the PersistentVolumeClaims and their
// StorageClasses to what one pass does about storage. A StatefulSet's volumeClaimTemplates are immutable, so a larger
// spec.storage.size is applied in three moves (after Strimzi's PvcReconciler, with its open gap #10818 closed):
//   1. every claim smaller than the spec is patched to the new size, only when its StorageClass allows expansion;
//   2. the StatefulSet is deleted with propagationPolicy Orphan (its pods and claims stay, nothing restarts) and
//      created again with the new template by the apply step, so pods of later ordinals get the new size;
//   3. the resize is followed through each claim's status; a pod is restarted (by the roll, one at a time) only when
//      its claim reports FileSystemResizePending, the volume grown but not its filesystem.
// A smaller size is refused with a Warning and the StatefulSet keeps its template; a claim grown beyond the spec out
// of band is the new floor for that claim and is never patched down. A change of storage type or class (the CRD
// forbids both; an object stored under an older CRD can still carry one) is refused as a whole.
import { quantityNanos, type ClaimStatus } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../kube/index.ts";

/** The claim template the operator renders (desired.ts); claims are named `<template>-<statefulset>-<ordinal>`. */
export const DATA_CLAIM = "data";

export interface ClaimView {
  name: string;
  requested: string | undefined;
  /** status.capacity.storage: what the volume provides now. */
  capacity: string | undefined;
  storageClassName: string | undefined;
  phase: string | undefined;
  conditions: readonly { type: string; status: string; message?: string; lastTransitionTime?: string }[];
}

export interface StorageClassView {
  allowVolumeExpansion: boolean;
}

export interface StoragePlanInput {
  /** The desired objects (desired.ts); only StatefulSets are looked at. */
  objects: readonly KubeObject[];
  /** The StatefulSet the API server holds under that name (informer cache), or undefined. */
  existing: (name: string) => KubeObject | undefined;
  /** Claims of the cluster by name. */
  claims: ReadonlyMap<string, ClaimView>;
  /** Pod creation times by pod name: a pod started after the resize began is not restarted for it again. */
  podCreated: ReadonlyMap<string, string | undefined>;
  /** StorageClasses looked up so far: null when the class does not exist. */
  classes: ReadonlyMap<string, StorageClassView | null>;
}

export type ClaimPhase = ClaimStatus["phase"];

export interface StoragePlan {
  /** The desired objects with held claim templates put back to the applied size. */
  objects: KubeObject[];
  /** Claims to patch to a larger spec.resources.requests.storage. */
  patches: { claim: string; size: string }[];
  /** StatefulSets to delete with propagationPolicy Orphan (uid precondition) so that apply re-creates them. */
  recreate: { name: string; uid: string; from: string; to: string }[];
  /** StatefulSets not to apply in this pass: being deleted for a re-creation, or deleted by this pass. */
  skipApply: string[];
  /** Pods whose claim waits for a filesystem resize, with the reason (the roll restarts them one at a time). */
  restarts: Map<string, string>;
  warnings: { reason: string; message: string }[];
  /** A storage type or class change: the spec is refused. */
  invalid?: { reason: string; message: string };
  claims: ClaimStatus[];
  /** StorageClasses the plan needs but `classes` lacks: look them up and plan again. */
  lookup: string[];
  /** A resize or re-creation is under way: look again soon. */
  waiting: boolean;
}

interface ClaimTemplate {
  metadata?: { name?: string };
  spec?: { resources?: { requests?: { storage?: string | number } }; storageClassName?: string };
}

interface StatefulSetShape {
  spec?: { replicas?: number; volumeClaimTemplates?: ClaimTemplate[] };
}

function dataTemplate(sts: KubeObject | undefined): ClaimTemplate | undefined {
  return (sts as (KubeObject & StatefulSetShape) | undefined)?.spec?.volumeClaimTemplates?.find(
    (t) => t.metadata?.name === DATA_CLAIM,
  );
}

function sizeOf(t: ClaimTemplate | undefined): string | undefined {
  const s = t?.spec?.resources?.requests?.storage;
  return s === undefined ? undefined : String(s);
}

/** -1, 0 or 1; an unparseable quantity (the API server never stores one) compares as equal, so nothing moves. */
export function compareQuantity(a: string, b: string): number {
  const x = quantityNanos(a);
  const y = quantityNanos(b);
  if (x === undefined || y === undefined || x === y) return 0;
  return x < y ? -1 : 1;
}

function withTemplateSize(sts: KubeObject, size: string): KubeObject {
  const shape = sts as KubeObject & StatefulSetShape;
  const templates = (shape.spec?.volumeClaimTemplates ?? []).map((t) =>
    t.metadata?.name === DATA_CLAIM
      ? { ...t, spec: { ...t.spec, resources: { ...t.spec?.resources, requests: { storage: size } } } }
      : t,
  );
  return { ...sts, spec: { ...shape.spec, volumeClaimTemplates: templates } };
}

function condition(claim: ClaimView, type: string): ClaimView["conditions"][number] | undefined {
  return claim.conditions.find((c) => c.type === type && c.status === "True");
}

/** Where a claim stands; `ResizeFailed` carries the resizer's message (ControllerResizeError, NodeResizeError). */
export function claimPhase(claim: ClaimView): { phase: ClaimPhase; message?: string } {
  if (claim.phase !== "Bound") return { phase: "Pending" };
  const failed = condition(claim, "ControllerResizeError") ?? condition(claim, "NodeResizeError");
  if (failed !== undefined) return { phase: "ResizeFailed", message: failed.message ?? failed.type };
  if (condition(claim, "FileSystemResizePending") !== undefined) return { phase: "FileSystemResizePending" };
  const grown =
    claim.requested === undefined ||
    (claim.capacity !== undefined && compareQuantity(claim.capacity, claim.requested) >= 0);
  return { phase: grown ? "Bound" : "Resizing" };
}

export function planStorage(input: StoragePlanInput): StoragePlan {
  const plan: StoragePlan = {
    objects: [],
    patches: [],
    recreate: [],
    skipApply: [],
    restarts: new Map(),
    warnings: [],
    claims: [],
    lookup: [],
    waiting: false,
  };
  for (const obj of input.objects) {
    if (obj.kind !== "StatefulSet") {
      plan.objects.push(obj);
      continue;
    }
    plan.objects.push(planStatefulSet(obj, input, plan));
  }
  plan.lookup = [...new Set(plan.lookup)].sort();
  return plan;
}

function planStatefulSet(desired: KubeObject, input: StoragePlanInput, plan: StoragePlan): KubeObject {
  const name = desired.metadata.name;
  const existing = input.existing(name);
  const want = dataTemplate(desired);
  const have = dataTemplate(existing);
  if (existing !== undefined && (want === undefined) !== (have === undefined)) {
    plan.invalid = {
      reason: "StorageTypeChange",
      message:
        `spec.storage.type differs from StatefulSet ${name}'s (${have === undefined ? "ephemeral" : "persistent-claim"}); ` +
        `the storage type cannot change in place: set it back, or create a new cluster and move the data. Nothing was applied.`,
    };
    return desired;
  }
  if (want === undefined) return desired;
  const wantClass = want.spec?.storageClassName;
  if (existing !== undefined && have !== undefined && have.spec?.storageClassName !== wantClass) {
    plan.invalid = {
      reason: "StorageClassChange",
      message:
        `spec.storage.class ${wantClass ?? "(default)"} differs from StatefulSet ${name}'s ` +
        `${have.spec?.storageClassName ?? "(default)"}; claims cannot move to another StorageClass. Set it back. ` +
        `Nothing was applied.`,
    };
    return desired;
  }
  const wantSize = sizeOf(want) ?? "";
  const haveSize = sizeOf(have);
  const replicas = (desired as KubeObject & StatefulSetShape).spec?.replicas ?? 0;
  const claims: ClaimView[] = [];
  for (let i = 0; i < replicas; i++) {
    const claim = input.claims.get(`${DATA_CLAIM}-${name}-${i}`);
    if (claim !== undefined) claims.push(claim);
  }
  const podOf = (claim: ClaimView): string => claim.name.slice(DATA_CLAIM.length + 1);

  // Being deleted for a re-creation (or by someone else): apply would write into a dying object; wait until it is gone.
  const deleting = existing?.metadata.deletionTimestamp !== undefined;
  if (deleting) {
    plan.skipApply.push(name);
    plan.waiting = true;
  }

  const shrink = haveSize !== undefined && compareQuantity(wantSize, haveSize) < 0;
  if (shrink) {
    plan.warnings.push({
      reason: "StorageShrinkRefused",
      message:
        `spec.storage.size ${wantSize} is smaller than the ${haveSize} of StatefulSet ${name}'s claims: volumes ` +
        `cannot shrink, so the storage is kept as it is and the rest of the spec is applied. Set spec.storage.size ` +
        `to ${haveSize} or more to clear this warning.`,
    });
  }
  // Claims smaller than the spec; a larger one (grown out of band) is its own floor and stays as it is.
  const small = shrink
    ? []
    : claims.filter((c) => c.requested !== undefined && compareQuantity(c.requested, wantSize) < 0);
  const grow = !shrink && haveSize !== undefined && compareQuantity(wantSize, haveSize) > 0;
  let blocked = shrink;
  if (small.length > 0) {
    const missing: string[] = [];
    const refused: string[] = [];
    for (const c of small) {
      const cls = c.storageClassName;
      if (cls === undefined || cls === "") refused.push(`${c.name} (no StorageClass)`);
      else if (!input.classes.has(cls)) missing.push(cls);
      else {
        const view = input.classes.get(cls);
        if (view === null || view === undefined) refused.push(`${c.name} (StorageClass ${cls} does not exist)`);
        else if (!view.allowVolumeExpansion)
          refused.push(`${c.name} (StorageClass ${cls} has no allowVolumeExpansion)`);
      }
    }
    if (missing.length > 0) {
      plan.lookup.push(...missing);
      blocked = true;
    } else if (refused.length > 0) {
      blocked = true;
      plan.warnings.push({
        reason: "StorageExpansionUnsupported",
        message:
          `spec.storage.size ${wantSize} needs larger volumes, but these claims cannot be expanded: ` +
          `${refused.join(", ")}. Nothing was resized; the rest of the spec is applied. Set spec.storage.size back ` +
          `to ${haveSize ?? small[0]?.requested ?? ""}, or allow expansion in the StorageClass.`,
      });
    }
  }
  if (!blocked) {
    for (const c of small) {
      // The API server only lets a Bound claim grow; an unbound one is looked at again when it binds.
      if (c.phase === "Bound") plan.patches.push({ claim: c.name, size: wantSize });
      else plan.waiting = true;
    }
  }
  const patched = new Set(plan.patches.map((p) => p.claim));

  for (const c of claims) {
    const requested = patched.has(c.name) ? wantSize : (c.requested ?? "");
    const view: ClaimView = { ...c, requested };
    const { phase, message } = claimPhase(view);
    const status: ClaimStatus = {
      name: c.name,
      requested,
      ...(c.capacity === undefined ? {} : { capacity: c.capacity }),
      phase,
      ...(message === undefined ? {} : { message }),
    };
    if (phase === "Bound" && compareQuantity(requested, wantSize) > 0) {
      status.message = `larger than spec.storage.size ${wantSize} (grown out of band): kept, never shrunk`;
    }
    plan.claims.push(status);
    if (phase === "ResizeFailed") {
      plan.warnings.push({
        reason: "VolumeResizeFailed",
        message: `expanding ${c.name} to ${requested} failed: ${message ?? ""}`,
      });
    }
    if (phase === "Resizing" || phase === "FileSystemResizePending") plan.waiting = true;
    if (phase === "FileSystemResizePending" && existing !== undefined && !deleting) {
      // A pod created after the condition appeared has mounted the volume since: restarting it again cannot help.
      // (Both are RFC 3339 in seconds, so they compare as strings; within the same second the pod counts as newer.)
      const pod = podOf(c);
      const since = condition(c, "FileSystemResizePending")?.lastTransitionTime;
      const created = input.podCreated.get(pod);
      if (input.podCreated.has(pod) && (since === undefined || created === undefined || created < since)) {
        plan.restarts.set(pod, `volume ${c.name} waits for a filesystem resize (FileSystemResizePending)`);
      }
    }
  }

  if (haveSize === undefined || existing === undefined || deleting || !(grow || shrink)) return desired;
  // Refused or not yet possible: the StatefulSet keeps the template it has (a changed one would be rejected anyway).
  if (blocked) return withTemplateSize(desired, haveSize);
  const uid = existing.metadata.uid ?? "";
  plan.recreate.push({ name, uid, from: haveSize, to: wantSize });
  plan.skipApply.push(name);
  plan.waiting = true;
  return desired;
}

/**
 * The Reconciling message for a pass: what is being done about storage, or undefined when nothing is in progress.
 * `recreating` names StatefulSets deleted for a larger claim template and not yet gone (the garbage collector carries
 * out an orphan deletion; without one running they stay, and this says what the operator waits for).
 */
export function storageProgress(
  claims: readonly ClaimStatus[],
  recreating: readonly string[] = [],
): string | undefined {
  const parts: string[] = [];
  const busy = claims.filter((c) => c.phase === "Resizing" || c.phase === "FileSystemResizePending");
  if (busy.length > 0) {
    parts.push(
      `Expanding volumes: ${busy.map((c) => `${c.name} ${c.capacity ?? "?"} -> ${c.requested} (${c.phase})`).join(", ")}`,
    );
  }
  if (recreating.length > 0) {
    parts.push(`re-creating StatefulSet ${recreating.join(", ")} for the new claim size (orphan deletion in progress)`);
  }
  return parts.length === 0 ? undefined : parts.join("; ");
}
