// The rack of a Kubernetes node (PURE): the value of one of its labels, as the operator's init step writes it into
// broker.rack. Label values are at most 63 characters of [A-Za-z0-9._-] (starting and ending alphanumeric), which
// also makes them safe in a properties file without escaping.

/** A node's label value: the rack, or why there is none. */
export type NodeRack = { readonly rack: string } | { readonly missing: string };

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$/;

/** The rack named by label `topologyKey` of a core/v1 Node (parsed JSON). */
export function rackOfNode(node: unknown, topologyKey: string): NodeRack {
  const metadata = (node as { metadata?: { name?: unknown; labels?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === "string" ? metadata.name : "(unnamed)";
  const labels = (typeof metadata?.labels === "object" && metadata.labels !== null ? metadata.labels : {}) as Record<
    string,
    unknown
  >;
  const value = labels[topologyKey];
  if (value === undefined) return { missing: `node ${name} has no label ${topologyKey}` };
  if (typeof value !== "string" || !LABEL_VALUE.test(value))
    return { missing: `node ${name} has label ${topologyKey}=${JSON.stringify(value)}, which is not a rack name` };
  return { rack: value };
}

/** The --override-file the broker reads: broker.rack when the node has one, else only a comment saying why not. */
export function rackProperties(node: string, topologyKey: string, rack: NodeRack): string {
  if ("rack" in rack) return `# label ${topologyKey} of node ${node}\nbroker.rack=${rack.rack}\n`;
  return `# broker.rack is unset: ${rack.missing}\n`;
}
