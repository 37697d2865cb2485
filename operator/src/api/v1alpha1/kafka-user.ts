// KafkaUser: a SCRAM credential and its ACLs on a KafkaCluster in the same namespace.
import { z } from "zod";
import { ClusterRef, cel, defineKind, resource, statusOf, type CrdDefinition } from "./common.ts";

export const AclOperation = z.enum([
  "All",
  "Read",
  "Write",
  "Create",
  "Delete",
  "Alter",
  "Describe",
  "ClusterAction",
  "DescribeConfigs",
  "AlterConfigs",
  "IdempotentWrite",
]);
export type AclOperation = z.output<typeof AclOperation>;

export const AclResource = cel(
  z
    .object({
      type: z.enum(["topic", "group", "cluster", "transactionalId"]).describe("Kind of Kafka resource."),
      name: z
        .string()
        .min(1)
        .max(249)
        .default("*")
        .describe("Resource name, a prefix (patternType: prefix) or * for all. Ignored for type: cluster."),
      patternType: z.enum(["literal", "prefix"]).default("literal").describe("How name matches."),
    })
    .describe("What the rule applies to."),
  {
    rule: "self.patternType == 'literal' || self.name != '*'",
    message: "a prefix pattern needs a name other than *",
  },
);

export const AclRule = z
  .object({
    resource: AclResource,
    operations: z.array(AclOperation).min(1).max(11).describe("Operations allowed or denied."),
    host: z.string().min(1).max(253).default("*").describe("Client host the rule applies to; * for any."),
    type: z.enum(["allow", "deny"]).default("allow").describe("allow or deny (deny wins)."),
  })
  .describe("One ACL rule.");
export type AclRule = z.output<typeof AclRule>;

export const KafkaUserSpec = z
  .object({
    clusterRef: ClusterRef,
    authentication: cel(
      z
        .object({
          type: z.literal("scram-sha-512").describe("SASL/SCRAM-SHA-512 with a password."),
          passwordSecretRef: z
            .object({
              name: z.string().min(1).max(253).describe("Secret name in the same namespace."),
              key: z.string().min(1).max(253).default("password").describe("Key holding the password."),
            })
            .optional()
            .describe("Use this password instead of generating one into the <user>-credentials Secret."),
        })
        .describe("How the user proves its identity."),
      { rule: "self.type == oldSelf.type", message: "authentication.type is immutable" },
    ),
    authorization: z
      .object({
        type: z.literal("simple").describe("Kafka ACLs."),
        acls: z.array(AclRule).max(256).default([]).describe("The user's ACL rules."),
      })
      .optional()
      .describe("What the user may do. Unset: no ACLs are managed for the user."),
  })
  .describe("Desired state of a Kafka user.");
export type KafkaUserSpec = z.output<typeof KafkaUserSpec>;

export const KafkaUserStatus = statusOf(
  "Ready and Warning",
  {
    username: z.string().optional().describe("The SASL user name."),
    secret: z.string().optional().describe("Secret holding the credentials (password, sasl.jaas.config)."),
  },
  "Observed state of the user, written by the operator.",
);
export type KafkaUserStatus = z.output<typeof KafkaUserStatus>;

export const KafkaUser = resource("KafkaUser", KafkaUserSpec, KafkaUserStatus);
export type KafkaUser = z.output<typeof KafkaUser>;

export const kafkaUserCrd: CrdDefinition = defineKind({
  kind: "KafkaUser",
  shortName: "ku",
  description: "A SCRAM user and its ACLs on a Tributary KafkaCluster in the same namespace.",
  spec: KafkaUserSpec,
  status: KafkaUserStatus,
  printerColumns: [
    { name: "Cluster", type: "string", jsonPath: ".spec.clusterRef.name" },
    { name: "Authentication", type: "string", jsonPath: ".spec.authentication.type" },
  ],
});
