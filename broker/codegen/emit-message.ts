import type { ElementType, FieldModel, FieldType, MessageModel, Primitive, StructModel } from "./model.ts";
import { intersect, isEmpty, versionCondition, type VersionRange } from "./versions.ts";

// Emits, per struct, an interface plus read/size/write functions that take the version as a parameter. Version checks
// are folded at generation time wherever the struct's context already decides them.

const FIXED_SIZE: Record<Primitive, number> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

function tern(cond: string, whenTrue: string, whenFalse: string): string {
  if (cond === "true") return whenTrue;
  if (cond === "false") return whenFalse;
  if (whenTrue === whenFalse) return whenTrue;
  return `(${cond} ? ${whenTrue} : ${whenFalse})`;
}

function elementTsType(e: ElementType): string {
  switch (e.kind) {
    case "primitive":
      return e.name === "bool" ? "boolean" : e.name === "int64" ? "bigint" : e.name === "uuid" ? "string" : "number";
    case "string":
      return "string";
    case "bytes":
    case "records":
      return "Buffer";
    case "struct":
      return e.struct.tsName;
  }
}

function canBeNull(f: FieldModel): boolean {
  const nullableKind = f.type.kind !== "primitive";
  return nullableKind && !isEmpty(f.nullable) && versionCondition(f.nullable, f.versions) !== "false";
}

function fieldTsType(f: FieldModel): string {
  const base = f.type.kind === "array" ? `${elementTsType(f.type.element)}[]` : elementTsType(f.type);
  return canBeNull(f) ? `${base} | null` : base;
}

function isTagged(f: FieldModel): boolean {
  return f.tag !== undefined;
}

/** Fields are required in the TypeScript type when every version of the struct carries them untagged. */
function isRequired(f: FieldModel, s: StructModel): boolean {
  return !isTagged(f) && versionCondition(f.versions, s.context) === "true";
}

function intLiteral(value: string | number | boolean, type: Primitive): string {
  const text = String(value);
  const n = BigInt(text);
  return type === "int64" ? `${n}n` : String(n);
}

function defaultExpr(f: FieldModel): string {
  const d = f.defaultValue;
  const t: FieldType = f.type;
  if (d === "null" && canBeNull(f)) return "null";
  switch (t.kind) {
    case "array":
      return "[]";
    case "struct":
      return `default${t.struct.tsName}()`;
    case "string":
      return JSON.stringify(d === undefined ? "" : String(d));
    case "bytes":
      return "EMPTY_BUFFER";
    case "records":
      return canBeNull(f) ? "null" : "EMPTY_BUFFER";
    case "primitive":
      if (t.name === "bool") return d === true || d === "true" ? "true" : "false";
      if (t.name === "uuid") return "ZERO_UUID";
      if (t.name === "float64") return d === undefined ? "0" : String(Number(d));
      return intLiteral(d === undefined || d === "" ? 0 : d, t.name);
  }
}

function isDefaultCheck(f: FieldModel, x: string): string {
  const t = f.type;
  const d = defaultExpr(f);
  if (d === "null") return `${x} === null`;
  if (t.kind === "array") return `${x}${canBeNull(f) ? "?" : ""}.length === 0`;
  if (t.kind === "struct") return "false";
  if (t.kind === "bytes" || t.kind === "records") return `${x}${canBeNull(f) ? "?" : ""}.length === 0`;
  return `${x} === ${d}`;
}

interface Ctx {
  /** Versions in which the code runs, for folding checks. */
  versions: VersionRange;
  /** Whether the value is inside a tagged section, where everything is compact. */
  inTagged: boolean;
}

/** Where the field's code runs: only in the versions that carry it, which lets more checks fold away. */
function fieldVersions(f: FieldModel, ctx: Ctx): VersionRange {
  return intersect(ctx.inTagged ? f.tagged : f.versions, ctx.versions);
}

function flexCond(f: FieldModel, ctx: Ctx): string {
  return ctx.inTagged ? "true" : versionCondition(f.flexible, fieldVersions(f, ctx));
}

function nullCond(f: FieldModel, ctx: Ctx): string {
  return f.type.kind === "primitive" ? "false" : versionCondition(f.nullable, fieldVersions(f, ctx));
}

/**
 * Picks one of the four encodings of a string or bytes field (compact or classic, nullable or not); the Reader,
 * Writer and sizeOf share the method names.
 */
function chooseEncoding(
  kind: "string" | "bytes" | "records",
  flex: string,
  nul: string,
  call: (method: string, nullable: boolean) => string,
): string {
  const name = kind === "string" ? "String" : "Bytes";
  return tern(
    flex,
    tern(nul, call(`compactNullable${name}`, true), call(`compact${name}`, false)),
    tern(nul, call(`nullable${name}`, true), call(name.toLowerCase(), false)),
  );
}

// ---- read ----

function readElement(e: ElementType, flex: string): string {
  switch (e.kind) {
    case "primitive":
      return `r.${e.name}()`;
    case "string":
      return tern(flex, "r.compactString()", "r.string()");
    case "bytes":
    case "records":
      return tern(flex, "r.compactBytes()", "r.bytes()");
    case "struct":
      return `read${e.struct.tsName}(r, v)`;
  }
}

function readField(f: FieldModel, ctx: Ctx): string {
  const flex = flexCond(f, ctx);
  const nul = nullCond(f, ctx);
  const t = f.type;
  switch (t.kind) {
    case "primitive":
      return `r.${t.name}()`;
    case "string":
    case "bytes":
    case "records":
      return chooseEncoding(t.kind, flex, nul, (method) => `r.${method}()`);
    case "struct":
      return tern(nul, `(r.int8() < 0 ? null : read${t.struct.tsName}(r, v))`, `read${t.struct.tsName}(r, v)`);
    case "array": {
      const item = `(r: Reader) => ${readElement(t.element, flex)}`;
      const flexArg = flex === "true" || flex === "false" ? flex : `${flex}`;
      return tern(nul, `readNullableArray(r, ${flexArg}, ${item})`, `readArray(r, ${flexArg}, ${item})`);
    }
  }
}

// ---- size ----

function sizeElement(e: ElementType, flex: string, x: string): string {
  switch (e.kind) {
    case "primitive":
      return String(FIXED_SIZE[e.name]);
    case "string":
      return tern(flex, `sizeOf.compactString(${x})`, `sizeOf.string(${x})`);
    case "bytes":
    case "records":
      return tern(flex, `sizeOf.compactBytes(${x})`, `sizeOf.bytes(${x})`);
    case "struct":
      return `size${e.struct.tsName}(${x}, v)`;
  }
}

/** `x` may be null in the TypeScript type but the version forbids null: fail clearly rather than write garbage. */
function nonNull(f: FieldModel, nul: string, x: string): string {
  return canBeNull(f) && nul !== "true" ? `requireValue(${x}, ${JSON.stringify(f.kafkaName)})` : x;
}

function sizeField(f: FieldModel, ctx: Ctx, x: string): string {
  const flex = flexCond(f, ctx);
  const nul = nullCond(f, ctx);
  const t = f.type;
  const v = nonNull(f, nul, x);
  switch (t.kind) {
    case "primitive":
      return String(FIXED_SIZE[t.name]);
    case "string":
    case "bytes":
    case "records":
      return chooseEncoding(t.kind, flex, nul, (method, nullable) => `sizeOf.${method}(${nullable ? x : v})`);
    case "struct":
      return tern(nul, `(${x} === null ? 1 : 1 + size${t.struct.tsName}(${x}, v))`, `size${t.struct.tsName}(${v}, v)`);
    case "array": {
      const e = t.element;
      const fixed = e.kind === "primitive";
      const sizeItem = fixed
        ? String(FIXED_SIZE[e.name])
        : `(item: ${elementTsType(e)}) => ${sizeElement(e, flex, "item")}`;
      const call = (arr: string) => `${fixed ? "sizeFixedArray" : "sizeArray"}(${arr}, ${flex}, ${sizeItem})`;
      return tern(nul, `(${x} === null ? ${tern(flex, "1", "4")} : ${call(x)})`, call(v));
    }
  }
}

// ---- write ----

function writeElement(e: ElementType, flex: string): string {
  switch (e.kind) {
    case "primitive":
      return `(w: Writer, item: ${elementTsType(e)}) => w.${e.name}(item)`;
    case "string":
      return `(w: Writer, item: string) => ${tern(flex, "w.compactString(item)", "w.string(item)")}`;
    case "bytes":
    case "records":
      return `(w: Writer, item: Buffer) => ${tern(flex, "w.compactBytes(item)", "w.bytes(item)")}`;
    case "struct":
      return `(w: Writer, item: ${e.struct.tsName}) => write${e.struct.tsName}(w, item, v)`;
  }
}

function writeField(f: FieldModel, ctx: Ctx, x: string): string {
  const flex = flexCond(f, ctx);
  const nul = nullCond(f, ctx);
  const t = f.type;
  const v = nonNull(f, nul, x);
  switch (t.kind) {
    case "primitive":
      return `w.${t.name}(${x})`;
    case "string":
    case "bytes":
    case "records":
      return chooseEncoding(t.kind, flex, nul, (method, nullable) => `w.${method}(${nullable ? x : v})`);
    case "struct":
      return tern(
        nul,
        `writeNullableStruct(w, ${x}, (s) => write${t.struct.tsName}(w, s, v))`,
        `write${t.struct.tsName}(w, ${v}, v)`,
      );
    case "array":
      return tern(
        nul,
        `writeNullableArray(w, ${x}, ${flex}, ${writeElement(t.element, flex)})`,
        `writeArray(w, ${v}, ${flex}, ${writeElement(t.element, flex)})`,
      );
  }
}

// ---- structs ----

function guard(cond: string, body: string): string {
  if (cond === "false") return "";
  if (cond === "true") return body;
  return `  if (${cond}) {\n${body}\n  }`;
}

/** Optional fields go through a local, so a null check on it narrows the type for the encoder call. */
function withValue(f: FieldModel, s: StructModel, statement: (x: string) => string): string {
  if (isRequired(f, s)) return `  ${statement(`m.${f.prop}`)}`;
  const usesValue = statement("x");
  if (!/\bx\b/.test(usesValue)) return `  ${usesValue}`;
  return `  {\n    const x = m.${f.prop} === undefined ? ${defaultExpr(f)} : m.${f.prop};\n    ${statement("x")}\n  }`;
}

function emitStruct(s: StructModel, flexible: VersionRange): string {
  const ctx: Ctx = { versions: s.context, inTagged: false };
  const tagCtx: Ctx = { versions: s.context, inTagged: true };
  const flexAny = versionCondition(flexible, s.context);
  const regular = s.fields.filter((f) => !isTagged(f));
  const tagged = s.fields.filter(isTagged).sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
  const out: string[] = [];

  // Interface
  out.push(`export interface ${s.tsName} {`);
  for (const f of s.fields) {
    if (f.about) out.push(`  /** ${f.about.replaceAll("*/", "*\\/")} */`);
    out.push(`  ${f.prop}${isRequired(f, s) ? "" : "?"}: ${fieldTsType(f)};`);
  }
  out.push(`  /** Tagged fields this version does not know, kept so they can be sent on unchanged. */`);
  out.push(`  unknownTaggedFields?: TaggedField[];`);
  out.push(`}`);
  out.push("");

  // Default
  out.push(`export function default${s.tsName}(): ${s.tsName} {`);
  out.push(`  return {`);
  for (const f of regular) out.push(`    ${f.prop}: ${defaultExpr(f)},`);
  out.push(`  };`);
  out.push(`}`);
  out.push("");

  // Read
  const readLines: string[] = [];
  for (const f of regular) {
    const cond = versionCondition(f.versions, s.context);
    readLines.push(`  const ${f.prop}_ = ${tern(cond, readField(f, ctx), defaultExpr(f))};`);
  }
  readLines.push(`  const m: ${s.tsName} = {`);
  for (const f of regular) readLines.push(`    ${f.prop}: ${f.prop}_,`);
  readLines.push(`  };`);
  if (flexAny !== "false") {
    const cases = tagged
      .filter((f) => versionCondition(f.tagged, s.context) !== "false")
      .map((f) => {
        const cond = versionCondition(f.tagged, s.context);
        const assign = `m.${f.prop} = ${readField(f, tagCtx)};`;
        return cond === "true"
          ? `      case ${f.tag}:\n        ${assign}\n        return;`
          : `      case ${f.tag}:\n        if (${cond}) {\n          ${assign}\n          return;\n        }\n        break;`;
      });
    const section = [
      `  r.taggedSection((tag, r) => {`,
      ...(cases.length > 0 ? [`    switch (tag) {`, ...cases, `    }`] : []),
      `    (m.unknownTaggedFields ??= []).push({ tag, data: r.rest() });`,
      `  });`,
    ].join("\n");
    readLines.push(guard(flexAny, section));
  }
  readLines.push(`  return m;`);
  out.push(`export function read${s.tsName}(r: Reader, v: number): ${s.tsName} {`);
  out.push(...readLines);
  out.push(`}`);
  out.push("");

  // Size
  const sizeLines: string[] = [`  let n = 0;`];
  for (const f of regular) {
    const cond = versionCondition(f.versions, s.context);
    sizeLines.push(
      guard(
        cond,
        withValue(f, s, (x) => `n += ${sizeField(f, ctx, x)};`),
      ),
    );
  }
  const taggedEntries = (mode: "size" | "write"): string[] =>
    tagged
      .filter((f) => versionCondition(f.tagged, s.context) !== "false")
      .map((f) => {
        const cond = versionCondition(f.tagged, s.context);
        const present = `x !== undefined && !(${isDefaultCheck(f, "x")})`;
        const entry =
          mode === "size"
            ? `tags.push({ tag: ${f.tag}, size: ${sizeField(f, tagCtx, "x")}, write: NO_WRITE });`
            : `tags.push({ tag: ${f.tag}, size: ${sizeField(f, tagCtx, "x")}, write: (w) => ${writeField(f, tagCtx, "x")} });`;
        return guard(cond, `    {\n      const x = m.${f.prop};\n      if (${present}) ${entry}\n    }`);
      });
  if (flexAny !== "false") {
    const body =
      tagged.length === 0
        ? `  n += sizeUnknownTaggedFields(m.unknownTaggedFields);`
        : [
            `  {`,
            `    const tags: TaggedWrite[] = [];`,
            ...taggedEntries("size"),
            `    n += sizeTaggedFields(tags, m.unknownTaggedFields);`,
            `  }`,
          ].join("\n");
    sizeLines.push(guard(flexAny, body));
  }
  sizeLines.push(`  return n;`);
  out.push(`export function size${s.tsName}(m: ${s.tsName}, v: number): number {`);
  out.push(...sizeLines);
  out.push(`}`);
  out.push("");

  // Write
  const writeLines: string[] = [];
  for (const f of regular) {
    const cond = versionCondition(f.versions, s.context);
    writeLines.push(
      guard(
        cond,
        withValue(f, s, (x) => `${writeField(f, ctx, x)};`),
      ),
    );
  }
  if (flexAny !== "false") {
    const body =
      tagged.length === 0
        ? `  writeUnknownTaggedFields(w, m.unknownTaggedFields);`
        : [
            `  {`,
            `    const tags: TaggedWrite[] = [];`,
            ...taggedEntries("write"),
            `    writeTaggedFields(w, tags, m.unknownTaggedFields);`,
            `  }`,
          ].join("\n");
    writeLines.push(guard(flexAny, body));
  }
  out.push(`export function write${s.tsName}(w: Writer, m: ${s.tsName}, v: number): void {`);
  out.push(...writeLines);
  out.push(`}`);
  out.push("");
  return out.join("\n");
}

/** Prefixes parameters a function body never reads with `_`, to satisfy noUnusedParameters. */
function markUnusedParameters(code: string): string {
  return code.replace(
    /(export function (?:read|size|write)\w+\()([^)]*)(\)[^{]*\{)([\s\S]*?\n)\}\n/g,
    (_whole, head: string, params: string, ret: string, body: string) => {
      const renamed = params.replace(/\b([mvw]): /g, (p: string, name: string) =>
        new RegExp(`\\b${name}\\b`).test(body) ? p : `_${name}: `,
      );
      return `${head}${renamed}${ret}${body}}\n`;
    },
  );
}

export function emitMessage(m: MessageModel): string {
  const parts = m.structs.map((s) => emitStruct(s, m.flexibleVersions));
  const spec = m.spec;
  const flexFrom = isEmpty(m.flexibleVersions) ? "null" : String(m.flexibleVersions.lo);
  parts.push(
    `export const ${spec.name}: MessageCodec<${spec.name}> = defineMessage({`,
    `  name: ${JSON.stringify(spec.name)},`,
    `  apiKey: ${spec.apiKey ?? -1},`,
    `  minVersion: ${m.validVersions.lo},`,
    `  maxVersion: ${m.validVersions.hi},`,
    `  flexibleFrom: ${flexFrom},`,
    `  read: read${spec.name},`,
    `  size: size${spec.name},`,
    `  write: write${spec.name},`,
    `  create: default${spec.name},`,
    `});`,
    "",
  );
  return markUnusedParameters(parts.join("\n"));
}
