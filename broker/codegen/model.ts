import type { FieldSpec, MessageSpec } from "./load-spec.ts";
import { intersect, parseVersions, type VersionRange } from "./versions.ts";

// Resolves Kafka's JSON into a model that the emitter can walk without re-deriving versions or types.

export type Primitive = "bool" | "int8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "float64" | "uuid";
const PRIMITIVES = new Set<string>(["bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "uuid"]);

export type ElementType =
  | { kind: "primitive"; name: Primitive }
  | { kind: "string" }
  | { kind: "bytes" }
  | { kind: "records" }
  | { kind: "struct"; struct: StructModel };

export type FieldType = ElementType | { kind: "array"; element: ElementType };

export interface FieldModel {
  kafkaName: string;
  prop: string;
  about: string;
  type: FieldType;
  /** Versions (within the enclosing struct's context) in which the field is on the wire at all. */
  versions: VersionRange;
  nullable: VersionRange;
  tagged: VersionRange;
  tag: number | undefined;
  /** Versions in which this field's own encoding is compact; differs from the message only for RequestHeader.ClientId. */
  flexible: VersionRange;
  defaultValue: string | number | boolean | undefined;
}

export interface StructModel {
  tsName: string;
  kafkaName: string;
  /**
   * The versions in which this struct can appear, used to simplify version checks. It is the message's whole range:
   * a struct may be reached from fields with different versions, and a wider context only costs a comparison.
   */
  context: VersionRange;
  fields: FieldModel[];
}

export interface MessageModel {
  spec: MessageSpec;
  root: StructModel;
  /** Every struct of the message, root last, in dependency order (children first). */
  structs: StructModel[];
  validVersions: VersionRange;
  flexibleVersions: VersionRange;
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function buildMessageModel(spec: MessageSpec): MessageModel {
  const validVersions = parseVersions(spec.validVersions);
  const flexibleVersions = parseVersions(spec.flexibleVersions);
  const structs: StructModel[] = [];
  const byName = new Map<string, StructModel>();
  const commonSpecs = new Map((spec.commonStructs ?? []).map((s) => [s.name, s.fields]));

  function fieldsOf(
    kafkaName: string,
    fields: FieldSpec[],
    context: VersionRange,
    inheritedFlexible: VersionRange,
  ): FieldModel[] {
    const seenTags = new Set<number>();
    return fields.map((f) => {
      const tagged = parseVersions(f.taggedVersions);
      const declared = f.versions !== undefined ? parseVersions(f.versions) : tagged;
      const versions = intersect(declared, context);
      if (f.tag !== undefined) {
        if (seenTags.has(f.tag)) throw new Error(`${spec.name}.${kafkaName}: duplicate tag ${f.tag}`);
        seenTags.add(f.tag);
        if (declared.lo < tagged.lo) throw new Error(`${spec.name}.${f.name}: tagged field also has untagged versions`);
      }
      const flexible = f.flexibleVersions !== undefined ? parseVersions(f.flexibleVersions) : inheritedFlexible;
      return {
        kafkaName: f.name,
        prop: camel(f.name),
        about: f.about ?? "",
        type: resolveType(f),
        versions,
        nullable: parseVersions(f.nullableVersions),
        tagged,
        tag: f.tag,
        flexible,
        defaultValue: f.default,
      };
    });
  }

  function structFor(kafkaName: string, inline: FieldSpec[] | undefined): StructModel {
    const existing = byName.get(kafkaName);
    if (existing) return existing;
    const fields = inline ?? commonSpecs.get(kafkaName);
    if (!fields) throw new Error(`${spec.name}: unknown struct type ${kafkaName}`);
    const tsName = kafkaName.startsWith(spec.name) ? kafkaName : `${spec.name}${kafkaName}`;
    const model: StructModel = { tsName, kafkaName, context: validVersions, fields: [] };
    byName.set(kafkaName, model);
    model.fields = fieldsOf(kafkaName, fields, validVersions, flexibleVersions);
    structs.push(model);
    return model;
  }

  function elementFor(typeName: string, field: FieldSpec): ElementType {
    if (PRIMITIVES.has(typeName)) return { kind: "primitive", name: typeName as Primitive };
    if (typeName === "string") return { kind: "string" };
    if (typeName === "bytes") return { kind: "bytes" };
    if (typeName === "records") return { kind: "records" };
    if (/^[A-Z]/.test(typeName)) return { kind: "struct", struct: structFor(typeName, field.fields) };
    throw new Error(`${spec.name}.${field.name}: unsupported type ${typeName}`);
  }

  function resolveType(field: FieldSpec): FieldType {
    if (field.type.startsWith("[]")) return { kind: "array", element: elementFor(field.type.slice(2), field) };
    return elementFor(field.type, field);
  }

  const root: StructModel = { tsName: spec.name, kafkaName: spec.name, context: validVersions, fields: [] };
  root.fields = fieldsOf(spec.name, spec.fields, validVersions, flexibleVersions);
  structs.push(root);
  return { spec, root, structs, validVersions, flexibleVersions };
}
