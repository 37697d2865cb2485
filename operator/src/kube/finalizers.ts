// Finalizers on the operator's own kinds (KafkaTopic now, KafkaUser next): added before the operator creates anything
// outside Kubernetes, removed once that is cleaned up. Each change is a JSON patch that first tests the list it was
// computed from, so a concurrent change by another controller fails the patch (422) instead of being overwritten;
// the caller's pass then fails and runs again from a fresh read. Needs `patch` on the kind itself: Kubernetes has no
// finalizers subresource that can be patched.
import { isNotFound, type KubeClient } from "./client.ts";
import type { KubeObject, ResourceType } from "./types.ts";

export function hasFinalizer(obj: Pick<KubeObject, "metadata">, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

/** Adds `finalizer` unless present; true when it wrote. */
export async function addFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<boolean> {
  if (hasFinalizer(obj, finalizer)) return false;
  const current = obj.metadata.finalizers;
  await client.patchJson(type, obj.metadata.namespace, obj.metadata.name, [
    // "test" against an absent list cannot be expressed, so an absent list is tested through the object's uid.
    current === undefined
      ? { op: "test", path: "/metadata/uid", value: obj.metadata.uid }
      : { op: "test", path: "/metadata/finalizers", value: current },
    {
      op: current === undefined ? "add" : "replace",
      path: "/metadata/finalizers",
      value: [...(current ?? []), finalizer],
    },
  ]);
  return true;
}

/** Removes `finalizer` if present; true when it wrote. A 404 (already gone) counts as done. */
export async function removeFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<boolean> {
  const current = obj.metadata.finalizers ?? [];
  if (!current.includes(finalizer)) return false;
  try {
    await client.patchJson(type, obj.metadata.namespace, obj.metadata.name, [
      { op: "test", path: "/metadata/finalizers", value: current },
      { op: "replace", path: "/metadata/finalizers", value: current.filter((f) => f !== finalizer) },
    ]);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  return true;
}
