// The KafkaCluster "prod" that the pure desired-state tests render for, and the controller reference its objects carry.
import type { OwnerReference } from "../../../src/kube/index.ts";

export const PROD_UID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

export const prodOwner: OwnerReference = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  name: "prod",
  uid: PROD_UID,
  controller: true,
  blockOwnerDeletion: true,
};
