// Owner references tie every object the operator creates to its KafkaCluster, so the garbage collector removes them
// with it and watches on owned kinds can be mapped back to the owner's key.
import { objectKey, type KubeObject, type ObjectKey, type OwnerReference } from "./types.ts";

/** A controller reference to `owner`; it must have been read from the API server (it needs the uid). */
export function controllerRef(owner: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): OwnerReference {
  const uid = owner.metadata.uid;
  if (uid === undefined || uid === "") throw new Error(`${owner.kind} ${owner.metadata.name} has no uid yet`);
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid,
    controller: true,
    // Foreground deletion of the owner waits for this object to go.
    blockOwnerDeletion: true,
  };
}

/** The controller owner's reference, when it is of `kind` (ignoring version, which can change across CRD versions). */
export function controllerOf(
  obj: Pick<KubeObject, "metadata">,
  apiGroup: string,
  kind: string,
): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find(
    (r) => r.controller === true && r.kind === kind && groupOf(r.apiVersion) === apiGroup,
  );
}

/** The work-queue key of the object's controller owner of `kind`; owners are always in the same namespace. */
export function ownerKey(obj: Pick<KubeObject, "metadata">, apiGroup: string, kind: string): ObjectKey | undefined {
  const ref = controllerOf(obj, apiGroup, kind);
  return ref === undefined ? undefined : objectKey(obj.metadata.namespace, ref.name);
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
