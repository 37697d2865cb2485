import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

// Kafka's message JSON, validated so that a spec update we do not understand fails the generator loudly instead of
// producing a subtly wrong codec.

export interface FieldSpec {
  name: string;
  type: string;
  versions?: string | undefined;
  nullableVersions?: string | undefined;
  taggedVersions?: string | undefined;
  tag?: number | undefined;
  flexibleVersions?: string | undefined;
  default?: string | number | boolean | undefined;
  about?: string | undefined;
  fields?: FieldSpec[] | undefined;
}

const fieldSchema: z.ZodType<FieldSpec> = z.lazy(() =>
  z
    .object({
      name: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
      type: z.string(),
      versions: z.string().optional(),
      nullableVersions: z.string().optional(),
      taggedVersions: z.string().optional(),
      tag: z.coerce.number().int().nonnegative().optional(),
      flexibleVersions: z.string().optional(),
      default: z.union([z.string(), z.number(), z.boolean()]).optional(),
      about: z.string().optional(),
      fields: z.array(fieldSchema).optional(),
    })
    .passthrough(),
);

const messageSchema = z
  .object({
    apiKey: z.number().int().optional(),
    type: z.enum(["request", "response", "header", "metadata", "data", "coordinator-key", "coordinator-value"]),
    name: z.string(),
    validVersions: z.string(),
    flexibleVersions: z.string(),
    listeners: z.array(z.string()).optional(),
    latestVersionUnstable: z.boolean().optional(),
    fields: z.array(fieldSchema),
    commonStructs: z
      .array(
        z.object({ name: z.string(), versions: z.string().optional(), fields: z.array(fieldSchema) }).passthrough(),
      )
      .optional(),
  })
  .passthrough();

export type MessageSpec = z.infer<typeof messageSchema>;

/** Kafka's files are JSON with whole-line `//` comments. */
export function parseSpecText(text: string, file: string): MessageSpec {
  const json = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("//"))
    .join("\n");
  const parsed = messageSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.message}`);
  return parsed.data;
}

export function loadSpecs(dir: string): MessageSpec[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => parseSpecText(readFileSync(join(dir, f), "utf8"), f));
}
