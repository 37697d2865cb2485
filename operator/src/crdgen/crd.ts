// CrdDefinition (operator/src/api) -> apiextensions.k8s.io/v1 CustomResourceDefinition, as plain data.
import { z } from "zod";
import { GROUP, VERSION, crdName, type CrdDefinition } from "../api/v1alpha1/index.ts";
import { toStructural, type SchemaNode } from "./structural.ts";

/** The structural OpenAPI v3 schema of a zod schema, as the API server sees a CR's input (defaults optional). */
export function openApiSchema(schema: z.ZodType, path: string): SchemaNode {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw", cycles: "throw", reused: "inline" });
  return toStructural(json, path);
}

export function buildCrd(def: CrdDefinition): SchemaNode {
  const subresources: SchemaNode = { status: {} };
  if (def.scale !== undefined) subresources["scale"] = { ...def.scale };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: crdName(def),
      labels: { "app.kubernetes.io/name": "tributary", "app.kubernetes.io/part-of": "tributary" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...def.shortNames],
        categories: [...def.categories],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          subresources,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string", description: `${GROUP}/${VERSION}` },
                kind: { type: "string", description: def.kind },
                metadata: { type: "object" },
                spec: openApiSchema(def.spec, ".spec"),
                status: openApiSchema(def.status, ".status"),
              },
            },
          },
        },
      ],
    },
  };
}
