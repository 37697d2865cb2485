// Storage size changes are held back (claim templates are immutable): the StatefulSet keeps the size it was created
// with, compared by value because the API server stores quantities in canonical form.
import { describe, expect, it } from "vitest";
import { KafkaClusterSpec } from "../../../src/api/v1alpha1/index.ts";
import { desired } from "../../../src/controllers/kafka-cluster/desired.ts";
import { heldClaimSizeMessage, holdClaimSizes } from "../../../src/controllers/kafka-cluster/storage.ts";
import type { KubeObject } from "../../../src/kube/index.ts";

const owner = { apiVersion: "tributary.dev/v1alpha1", kind: "KafkaCluster", name: "c", uid: "u" };
const render = (size: string): KubeObject[] =>
  desired(
    {
      name: "c",
      namespace: "ns",
      uid: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
      spec: KafkaClusterSpec.parse({
        replicas: 3,
        controller: { mode: "dedicated", replicas: 3 },
        storage: { type: "persistent-claim", size },
      }),
    },
    owner,
  ).objects;
const claimSize = (objects: KubeObject[], sts: string): unknown =>
  (
    objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === sts) as KubeObject & {
      spec: { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] };
    }
  ).spec.volumeClaimTemplates[0]?.spec.resources.requests.storage;
const stored = (size: string) => (name: string) => render(size).find((o) => o.metadata.name === name);

describe("holdClaimSizes", () => {
  it("keeps the existing size of every pool and changes nothing else", () => {
    const want = render("20Gi");
    const { objects, held } = holdClaimSizes(want, stored("10Gi"));
    expect(held).toEqual([
      { statefulSet: "c-controller", claim: "data", current: "10Gi", requested: "20Gi" },
      { statefulSet: "c-broker", claim: "data", current: "10Gi", requested: "20Gi" },
    ]);
    expect(claimSize(objects, "c-broker")).toBe("10Gi");
    expect(claimSize(objects, "c-controller")).toBe("10Gi");
    // Everything else is the desired state unchanged (the input is not modified).
    expect(claimSize(want, "c-broker")).toBe("20Gi");
    const strip = (os: KubeObject[]) => JSON.stringify(os).replaceAll('"20Gi"', '"10Gi"');
    expect(strip(objects)).toBe(strip(want));
    expect(heldClaimSizeMessage(held)).toBe(
      "spec.storage.size changed from 10Gi to 20Gi, but the operator does not resize volumes yet: StatefulSet " +
        "c-controller, c-broker keeps 10Gi claims and everything else in the spec is applied. Set spec.storage.size " +
        "back to 10Gi to clear this warning.",
    );
  });

  it("holds nothing when sizes are equal by value, or when no StatefulSet exists yet", () => {
    const want = render("1024Mi");
    expect(holdClaimSizes(want, stored("1Gi")).held).toEqual([]);
    expect(holdClaimSizes(want, stored("1Gi")).objects).toEqual(want);
    expect(holdClaimSizes(want, () => undefined).held).toEqual([]);
  });
});
