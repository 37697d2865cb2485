// Builds messages from the codegen model for tests: arbitrary values for exactly the fields a version carries, so a
// round trip must reproduce them field for field.
import fc from "fast-check";
import {
  buildMessageModel,
  type ElementType,
  type FieldModel,
  type MessageModel,
  type StructModel,
} from "../../codegen/model.ts";
import { loadSpecs } from "../../codegen/load-spec.ts";
import { RAFT_DATA_SPECS, servedBy } from "../../codegen/selection.ts";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const specDir = fileURLToPath(new URL("../../spec/kafka", import.meta.url));

function apiModels(include: (by: { broker: boolean; controller: boolean }) => boolean): MessageModel[] {
  const specs = loadSpecs(specDir);
  const apis = new Set(specs.filter((s) => s.type === "request" && include(servedBy(s))).map((s) => s.apiKey));
  return specs
    .filter((s) => (s.type === "request" || s.type === "response") && apis.has(s.apiKey))
    .map(buildMessageModel);
}

export function brokerMessageModels(): MessageModel[] {
  return apiModels((by) => by.broker);
}

/**
 * What only a KRaft controller serves (the quorum RPCs Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot, and
 * broker registration/heartbeat, ...), the metadata records and the raft control records and quorum state.
 */
export function kraftMessageModels(): MessageModel[] {
  const controllerOnly = apiModels((by) => by.controller && !by.broker);
  const records = loadSpecs(join(specDir, "metadata")).map(buildMessageModel);
  const data = [...loadSpecs(specDir), ...loadSpecs(join(specDir, "raft"))]
    .filter((s) => RAFT_DATA_SPECS.includes(s.name))
    .map(buildMessageModel);
  return [...controllerOnly, ...records, ...data];
}

function inRange(v: number, r: { lo: number; hi: number }): boolean {
  return v >= r.lo && v <= r.hi;
}

const bigint64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const uuidArb = fc.uuid().map((u) => u.toLowerCase());
const shortString = fc.string({ maxLength: 12 });
const bytesArb = fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a));

function elementArb(e: ElementType, v: number, depth: number): fc.Arbitrary<unknown> {
  switch (e.kind) {
    case "primitive":
      switch (e.name) {
        case "bool":
          return fc.boolean();
        case "int8":
          return fc.integer({ min: -128, max: 127 });
        case "int16":
          return fc.integer({ min: -32768, max: 32767 });
        case "uint16":
          return fc.integer({ min: 0, max: 65535 });
        case "int32":
          return fc.integer();
        case "uint32":
          return fc.integer({ min: 0, max: 0xffffffff });
        case "int64":
          return bigint64;
        case "float64":
          return fc.double({ noNaN: true });
        case "uuid":
          return uuidArb;
      }
      break;
    case "string":
      return shortString;
    case "bytes":
    case "records":
      return bytesArb;
    case "struct":
      return structArb(e.struct, v, depth + 1);
  }
}

function fieldArb(f: FieldModel, v: number, depth: number): fc.Arbitrary<unknown> {
  const nullable = f.type.kind !== "primitive" && inRange(v, f.nullable);
  const base =
    f.type.kind === "array"
      ? fc.array(elementArb(f.type.element, v, depth), { maxLength: depth > 2 ? 0 : 2 })
      : elementArb(f.type, v, depth);
  return nullable ? fc.option(base, { nil: null, freq: 4 }) : base;
}

function isTaggedDefault(f: FieldModel, x: unknown): boolean {
  const d = f.defaultValue;
  if (x === null) return d === "null";
  if (Array.isArray(x) || Buffer.isBuffer(x)) return x.length === 0 && d !== "null";
  if (typeof x === "bigint") return x === BigInt(d === undefined ? 0 : String(d));
  if (typeof x === "boolean") return x === (d === true || d === "true");
  if (typeof x === "number") return x === Number(d ?? 0);
  if (typeof x === "string")
    return f.type.kind === "primitive" ? /^0{8}-/.test(x) && /^[0-]+$/.test(x) : x === (d ?? "");
  return false;
}

/** Arbitrary values of a struct at version v; fields absent from v are omitted (they decode to defaults). */
export function structArb(s: StructModel, v: number, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  const tagged: string[] = [];
  for (const f of s.fields) {
    if (f.tag !== undefined) {
      if (inRange(v, f.tagged)) {
        // A tagged field at its default is not written, so it would not come back: generate only non-defaults.
        shape[f.prop] = fieldArb(f, v, depth).filter((x) => !isTaggedDefault(f, x));
        tagged.push(f.prop);
      }
    } else if (inRange(v, f.versions)) {
      shape[f.prop] = fieldArb(f, v, depth);
    }
  }
  return fc.record(shape, { requiredKeys: Object.keys(shape).filter((k) => !tagged.includes(k)) });
}
