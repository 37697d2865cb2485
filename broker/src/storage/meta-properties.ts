import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseProperties } from "../config/properties.ts";
import { writeFileAtomic } from "../log/checkpoint.ts";

// meta.properties in Kafka's KRaft form (version 1): the file that marks a log directory as formatted and binds it
// to one cluster and one node. Kafka's tools and brokers read the same keys.

export const META_PROPERTIES = "meta.properties";

export interface MetaProperties {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Absent in files written before directory ids existed. */
  readonly directoryId?: string;
}

export class MetaPropertiesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetaPropertiesError";
  }
}

export function formatMetaProperties(meta: MetaProperties): string {
  const lines = [
    "# Written by tributary-storage format (or by a single-node first start); do not edit.",
    "version=1",
    `cluster.id=${meta.clusterId}`,
    `node.id=${meta.nodeId}`,
  ];
  if (meta.directoryId !== undefined) lines.push(`directory.id=${meta.directoryId}`);
  return `${lines.join("\n")}\n`;
}

/** Parses a version 1 file; `origin` names the file in error messages. */
export function parseMetaProperties(text: string, origin: string): MetaProperties {
  const props = new Map(parseProperties(text).map((e) => [e.key, e.value]));
  const version = props.get("version") ?? "0";
  if (version !== "1") throw new MetaPropertiesError(`${origin}: version ${version} is not supported (expected 1)`);
  const clusterId = props.get("cluster.id");
  if (clusterId === undefined || clusterId === "") throw new MetaPropertiesError(`${origin}: cluster.id is missing`);
  const nodeText = props.get("node.id");
  if (nodeText === undefined || !/^\d+$/.test(nodeText))
    throw new MetaPropertiesError(`${origin}: node.id is missing or not a non-negative integer`);
  const directoryId = props.get("directory.id");
  return { clusterId, nodeId: Number(nodeText), ...(directoryId !== undefined ? { directoryId } : {}) };
}

/** The directory's meta.properties, or null when the directory is not formatted. */
export async function readMetaProperties(dir: string): Promise<MetaProperties | null> {
  const path = join(dir, META_PROPERTIES);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  return parseMetaProperties(text, path);
}

/** Creates the directory if needed and replaces its meta.properties atomically. */
export async function writeMetaProperties(dir: string, meta: MetaProperties): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, META_PROPERTIES), formatMetaProperties(meta));
}
