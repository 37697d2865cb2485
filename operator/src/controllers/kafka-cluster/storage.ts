// Storage size changes (PURE). A StatefulSet's volumeClaimTemplates cannot change, so applying a new spec.storage.size
// fails with 422 and nothing else in the StatefulSet would be applied either. Until volume expansion exists, the
// desired StatefulSet keeps the claim size it was created with, the rest of it is applied, and status says why. The
// CRD lets the size change either way so that a user can set it back: whether claims may grow or shrink depends on
// their actual size, which only the reconciler sees.
import { quantityNanos } from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../../kube/index.ts";

interface ClaimTemplate {
  metadata?: { name?: string };
  spec?: { resources?: { requests?: { storage?: string | number } } };
}

interface StatefulSetShape {
  spec?: { volumeClaimTemplates?: ClaimTemplate[] };
}

export interface HeldClaimSize {
  statefulSet: string;
  claim: string;
  /** The size the StatefulSet's claims were created with, kept. */
  current: string;
  /** The size the spec asks for, not applied. */
  requested: string;
}

/**
 * The desired objects with every StatefulSet claim template whose size differs from the existing StatefulSet's set back
 * to the existing size, and the list of what was held. `existing` looks a StatefulSet up by name.
 */
export function holdClaimSizes(
  objects: readonly KubeObject[],
  existing: (name: string) => KubeObject | undefined,
): { objects: KubeObject[]; held: HeldClaimSize[] } {
  const held: HeldClaimSize[] = [];
  const out = objects.map((obj) => {
    if (obj.kind !== "StatefulSet") return obj;
    const current = existing(obj.metadata.name);
    if (current === undefined) return obj;
    const currentSizes = new Map(
      ((current as KubeObject & StatefulSetShape).spec?.volumeClaimTemplates ?? []).map((t) => [
        t.metadata?.name ?? "",
        t.spec?.resources?.requests?.storage,
      ]),
    );
    const desired = obj as KubeObject & StatefulSetShape;
    const templates = desired.spec?.volumeClaimTemplates;
    if (templates === undefined) return obj;
    let changed = false;
    const kept = templates.map((t) => {
      const name = t.metadata?.name ?? "";
      const want = t.spec?.resources?.requests?.storage;
      const have = currentSizes.get(name);
      if (want === undefined || have === undefined) return t;
      if (quantityNanos(want) === quantityNanos(have)) return t;
      changed = true;
      held.push({ statefulSet: obj.metadata.name, claim: name, current: String(have), requested: String(want) });
      return { ...t, spec: { ...t.spec, resources: { ...t.spec?.resources, requests: { storage: have } } } };
    });
    return changed ? { ...obj, spec: { ...desired.spec, volumeClaimTemplates: kept } } : obj;
  });
  return { objects: out, held };
}

/** The Warning text for held sizes (one spec field, so one sentence however many pools hold it). */
export function heldClaimSizeMessage(held: readonly HeldClaimSize[]): string {
  const first = held[0];
  if (first === undefined) return "";
  const sets = [...new Set(held.map((h) => h.statefulSet))].join(", ");
  return (
    `spec.storage.size changed from ${first.current} to ${first.requested}, but the operator does not resize ` +
    `volumes yet: StatefulSet ${sets} keeps ${first.current} claims and everything else in the spec is applied. ` +
    `Set spec.storage.size back to ${first.current} to clear this warning.`
  );
}
