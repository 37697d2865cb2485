// zod's JSON Schema (z.toJSONSchema) -> a Kubernetes structural OpenAPI v3 schema. Pure; golden-tested through the
// generated CRDs and unit tests in operator/test/crdgen.
//
// Structural rules (apiextensions.k8s.io/v1) this enforces:
//   - every node has a type, unless it is x-kubernetes-int-or-string or x-kubernetes-preserve-unknown-fields;
//   - no $ref, and no oneOf/anyOf except the int-or-string pair: a union of objects (zod discriminatedUnion) becomes
//     one object with every branch's properties (CEL rules on the union keep the branches apart);
//   - properties and additionalProperties never together, no additionalProperties: false;
//   - JSON Schema keywords Kubernetes does not know ($schema, propertyNames, const, prefixItems) are rewritten or refused.

/** A JSON Schema / OpenAPI v3 node as plain data. */
export type SchemaNode = { [key: string]: unknown };

/** JavaScript's safe-integer bounds, which zod puts on every z.int(); Kubernetes integers need no such bounds. */
const SAFE_MIN = Number.MIN_SAFE_INTEGER;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const DROPPED = new Set(["$schema", "$id", "id", "propertyNames", "$comment"]);
const REFUSED = [
  "$ref",
  "$defs",
  "definitions",
  "allOf",
  "not",
  "prefixItems",
  "if",
  "then",
  "else",
  "patternProperties",
];

export class StructuralSchemaError extends Error {
  constructor(path: string, message: string) {
    super(`${path === "" ? "<root>" : path}: ${message}`);
    this.name = "StructuralSchemaError";
  }
}

function isNode(value: unknown): value is SchemaNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function children(node: SchemaNode, key: string): SchemaNode[] {
  const value = node[key];
  return Array.isArray(value) ? value.filter(isNode) : [];
}

/** Converts one node (and its subtree) into a structural schema. `path` is for error messages only. */
export function toStructural(input: SchemaNode, path = ""): SchemaNode {
  for (const key of REFUSED) {
    if (key in input) throw new StructuralSchemaError(path, `'${key}' has no structural equivalent`);
  }
  let node: SchemaNode = {};
  for (const [key, value] of Object.entries(input)) if (!DROPPED.has(key)) node[key] = value;

  if ("const" in node) {
    node["enum"] = [node["const"]];
    delete node["const"];
  }
  if (node["type"] === "integer") narrowInteger(node);
  if (Array.isArray(node["type"]) && node["x-kubernetes-preserve-unknown-fields"] !== true) {
    throw new StructuralSchemaError(
      path,
      "a union of types is not structural (mark it x-kubernetes-preserve-unknown-fields)",
    );
  }

  if (node["x-kubernetes-int-or-string"] === true) return ordered(intOrString(node));
  if (node["x-kubernetes-preserve-unknown-fields"] === true) {
    delete node["anyOf"];
    delete node["oneOf"];
    delete node["additionalProperties"];
    if (Array.isArray(node["type"])) delete node["type"];
    if (isNode(node["properties"]) && Object.keys(node["properties"]).length === 0) delete node["properties"];
    if (node["type"] === undefined && node["properties"] !== undefined) node["type"] = "object";
  }

  const union = [...children(node, "oneOf"), ...children(node, "anyOf")];
  if (union.length > 0) node = mergeObjectUnion(node, union, path);

  if (isNode(node["properties"])) {
    const properties: SchemaNode = {};
    for (const [name, child] of Object.entries(node["properties"])) {
      if (!isNode(child)) throw new StructuralSchemaError(`${path}.${name}`, "property schema is not an object");
      properties[name] = toStructural(child, `${path}.${name}`);
    }
    node["properties"] = properties;
    delete node["additionalProperties"];
  }
  if (node["additionalProperties"] === false || node["additionalProperties"] === true)
    delete node["additionalProperties"];
  if (isNode(node["additionalProperties"])) {
    if (Object.keys(node["additionalProperties"]).length === 0) {
      delete node["additionalProperties"];
      node["x-kubernetes-preserve-unknown-fields"] = true;
    } else {
      node["additionalProperties"] = toStructural(node["additionalProperties"], `${path}[*]`);
    }
  }
  if (isNode(node["items"])) node["items"] = toStructural(node["items"], `${path}[]`);
  else if (node["items"] !== undefined) throw new StructuralSchemaError(path, "tuple items are not structural");

  if (
    node["type"] === undefined &&
    node["x-kubernetes-preserve-unknown-fields"] !== true &&
    node["x-kubernetes-int-or-string"] !== true
  ) {
    throw new StructuralSchemaError(path, "no type (structural schemas need one on every node)");
  }
  return ordered(node);
}

/** Canonical key order, so the YAML reads the same way at every level (and diffs stay small). */
const KEY_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "maxProperties",
  "anyOf",
  "required",
  "properties",
  "additionalProperties",
  "items",
];

function ordered(node: SchemaNode): SchemaNode {
  const rank = (key: string) => {
    const i = KEY_ORDER.indexOf(key);
    return i >= 0 ? i : KEY_ORDER.length;
  };
  const keys = Object.keys(node).sort(
    (a, b) => rank(a) - rank(b) || (rank(a) === KEY_ORDER.length ? a.localeCompare(b) : 0),
  );
  const out: SchemaNode = {};
  for (const key of keys) out[key] = node[key];
  return out;
}

function narrowInteger(node: SchemaNode): void {
  if (node["minimum"] === SAFE_MIN) delete node["minimum"];
  if (node["maximum"] === SAFE_MAX) delete node["maximum"];
  if (node["minimum"] === INT32_MIN && node["maximum"] === INT32_MAX) {
    delete node["minimum"];
    delete node["maximum"];
    node["format"] = "int32";
  }
  if (node["format"] === undefined) node["format"] = "int64";
}

/** Kubernetes' own shape for IntOrString and Quantity: anyOf integer|string, the string's pattern on top. */
function intOrString(node: SchemaNode): SchemaNode {
  const branches = [...children(node, "anyOf"), ...children(node, "oneOf")];
  const stringBranch = branches.find((b) => b["type"] === "string");
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (key !== "anyOf" && key !== "oneOf" && key !== "type") out[key] = value;
  }
  out["anyOf"] = [{ type: "integer" }, { type: "string" }];
  if (stringBranch?.["pattern"] !== undefined && out["pattern"] === undefined) out["pattern"] = stringBranch["pattern"];
  return out;
}

/** A union of object branches (zod discriminatedUnion) -> one object with the union of their properties. */
function mergeObjectUnion(node: SchemaNode, branches: SchemaNode[], path: string): SchemaNode {
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) if (key !== "oneOf" && key !== "anyOf") out[key] = value;
  const properties: SchemaNode = {};
  let required: string[] | undefined;
  for (const branch of branches) {
    if (branch["type"] !== "object" || !isNode(branch["properties"])) {
      throw new StructuralSchemaError(path, "only unions of objects can be made structural (use int-or-string meta)");
    }
    for (const [name, raw] of Object.entries(branch["properties"])) {
      if (!isNode(raw)) continue;
      const child = "const" in raw ? { ...withoutKey(raw, "const"), enum: [raw["const"]] } : raw;
      const seen = properties[name];
      properties[name] = isNode(seen) ? mergeProperty(seen, child, `${path}.${name}`) : child;
    }
    const branchRequired = Array.isArray(branch["required"]) ? branch["required"].map(String) : [];
    required = required === undefined ? branchRequired : required.filter((r) => branchRequired.includes(r));
  }
  out["type"] = "object";
  out["properties"] = properties;
  if (required !== undefined && required.length > 0) out["required"] = required;
  return out;
}

function withoutKey(node: SchemaNode, key: string): SchemaNode {
  const out: SchemaNode = {};
  for (const [k, v] of Object.entries(node)) if (k !== key) out[k] = v;
  return out;
}

/** Two branches define the same property: enums are joined, anything else must agree on type. */
function mergeProperty(a: SchemaNode, b: SchemaNode, path: string): SchemaNode {
  if (a["type"] !== b["type"]) throw new StructuralSchemaError(path, "union branches disagree on the property type");
  const merged: SchemaNode = { ...a };
  const ea: unknown = a["enum"];
  const eb: unknown = b["enum"];
  if (Array.isArray(ea) && Array.isArray(eb))
    merged["enum"] = [...new Set<unknown>([...(ea as unknown[]), ...(eb as unknown[])])];
  const da = a["description"];
  const db = b["description"];
  if (typeof da === "string" && typeof db === "string" && da !== db) merged["description"] = `${da} ${db}`;
  return merged;
}
