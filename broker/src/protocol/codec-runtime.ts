// Shared building blocks of the generated codecs, kept here so the generated files stay small and readable.
import { DecodeError, EncodeError } from "./primitives/decode-error.ts";
import { Reader, type TaggedField } from "./primitives/reader.ts";
import { sizeOfUnsignedVarint } from "./primitives/varint.ts";
import { Writer } from "./primitives/writer.ts";

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
export { ZERO_UUID } from "./primitives/uuid.ts";

export function readArray<T>(r: Reader, flexible: boolean, readItem: (r: Reader) => T): T[] {
  const count = flexible ? r.compactArrayLength() : r.arrayLength();
  if (count < 0) r.fail("null where a non-nullable array is required");
  const items = new Array<T>(count);
  for (let i = 0; i < count; i++) items[i] = readItem(r);
  return items;
}

export function readNullableArray<T>(r: Reader, flexible: boolean, readItem: (r: Reader) => T): T[] | null {
  const count = flexible ? r.compactArrayLength() : r.arrayLength();
  if (count < 0) return null;
  const items = new Array<T>(count);
  for (let i = 0; i < count; i++) items[i] = readItem(r);
  return items;
}

function arrayHeaderSize(count: number, flexible: boolean): number {
  return flexible ? sizeOfUnsignedVarint(count + 1) : 4;
}

export function sizeFixedArray(items: readonly unknown[], flexible: boolean, itemSize: number): number {
  return arrayHeaderSize(items.length, flexible) + items.length * itemSize;
}

export function sizeArray<T>(items: readonly T[], flexible: boolean, sizeItem: (item: T) => number): number {
  let n = arrayHeaderSize(items.length, flexible);
  for (const item of items) n += sizeItem(item);
  return n;
}

export function writeArray<T>(
  w: Writer,
  items: readonly T[],
  flexible: boolean,
  writeItem: (w: Writer, item: T) => void,
): void {
  if (flexible) w.compactArrayLength(items.length);
  else w.arrayLength(items.length);
  for (const item of items) writeItem(w, item);
}

export function writeNullableArray<T>(
  w: Writer,
  items: readonly T[] | null,
  flexible: boolean,
  writeItem: (w: Writer, item: T) => void,
): void {
  if (items === null) {
    if (flexible) w.unsignedVarint(0);
    else w.arrayLength(-1);
    return;
  }
  writeArray(w, items, flexible, writeItem);
}

export function writeNullableStruct<T>(w: Writer, value: T | null, writeStruct: (value: T) => void): void {
  if (value === null) {
    w.int8(-1);
    return;
  }
  w.int8(1);
  writeStruct(value);
}

/** A null in a version that cannot carry one is a caller bug; Kafka's generated code throws the same way. */
export function requireValue<T>(value: T | null, field: string): T {
  if (value === null) throw new EncodeError(`${field} cannot be null in this version`);
  return value;
}

/** A known tagged field to be written: its tag, the size of its value and how to write the value. */
export interface TaggedWrite {
  tag: number;
  size: number;
  write: (w: Writer) => void;
}

export const NO_WRITE = (): void => undefined;

function taggedEntrySize(tag: number, size: number): number {
  return sizeOfUnsignedVarint(tag) + sizeOfUnsignedVarint(size) + size;
}

export function sizeUnknownTaggedFields(unknown: readonly TaggedField[] | undefined): number {
  if (unknown === undefined) return 1;
  let n = sizeOfUnsignedVarint(unknown.length);
  for (const f of unknown) n += taggedEntrySize(f.tag, f.data.length);
  return n;
}

export function sizeTaggedFields(known: readonly TaggedWrite[], unknown: readonly TaggedField[] | undefined): number {
  let count = known.length;
  let n = 0;
  for (const f of known) n += taggedEntrySize(f.tag, f.size);
  if (unknown !== undefined) {
    count += unknown.length;
    for (const f of unknown) n += taggedEntrySize(f.tag, f.data.length);
  }
  return sizeOfUnsignedVarint(count) + n;
}

export function writeUnknownTaggedFields(w: Writer, unknown: readonly TaggedField[] | undefined): void {
  if (unknown === undefined) {
    w.unsignedVarint(0);
    return;
  }
  w.unsignedVarint(unknown.length);
  for (const f of unknown) {
    w.unsignedVarint(f.tag);
    w.unsignedVarint(f.data.length);
    w.raw(f.data);
  }
}

/** Writes the tagged section in ascending tag order, merging fields this version knows with ones it passed through. */
export function writeTaggedFields(w: Writer, known: TaggedWrite[], unknown: readonly TaggedField[] | undefined): void {
  const all: TaggedWrite[] =
    unknown === undefined
      ? known
      : [...known, ...unknown.map((f) => ({ tag: f.tag, size: f.data.length, write: (w: Writer) => w.raw(f.data) }))];
  if (unknown !== undefined) all.sort((a, b) => a.tag - b.tag);
  w.unsignedVarint(all.length);
  for (const f of all) {
    w.unsignedVarint(f.tag);
    w.unsignedVarint(f.size);
    f.write(w);
  }
}

/** The codec of one message (request, response or header) across all its versions. */
export interface MessageCodec<T> {
  readonly name: string;
  /** -1 for headers. */
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version, or null when no version is flexible. */
  readonly flexibleFrom: number | null;
  isFlexible(version: number): boolean;
  /** Reads one message at `version` from the reader's position, leaving any trailing bytes unread. */
  read(r: Reader, version: number): T;
  size(message: T, version: number): number;
  write(w: Writer, message: T, version: number): void;
  /** A message with every field at its default, to be filled in. */
  create(): T;
  /** Decodes a buffer that holds exactly one message; trailing bytes are an error. */
  decode(buf: Buffer, version: number): T;
  /** Encodes into a new buffer of exactly the message's size. */
  encode(message: T, version: number): Buffer;
}

interface MessageDefinition<T> {
  name: string;
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  flexibleFrom: number | null;
  read: (r: Reader, version: number) => T;
  size: (message: T, version: number) => number;
  write: (w: Writer, message: T, version: number) => void;
  create: () => T;
}

export function defineMessage<T>(d: MessageDefinition<T>): MessageCodec<T> {
  const checkVersion = (version: number, offset: number): void => {
    if (!Number.isInteger(version) || version < d.minVersion || version > d.maxVersion) {
      throw new DecodeError(`${d.name} has no version ${version} (valid ${d.minVersion}-${d.maxVersion})`, offset);
    }
  };
  return {
    ...d,
    isFlexible: (version) => d.flexibleFrom !== null && version >= d.flexibleFrom,
    read(r, version) {
      checkVersion(version, r.offset);
      return d.read(r, version);
    },
    decode(buf, version) {
      checkVersion(version, 0);
      const r = new Reader(buf);
      const message = d.read(r, version);
      r.expectEnd(d.name);
      return message;
    },
    encode(message, version) {
      if (version < d.minVersion || version > d.maxVersion) {
        throw new EncodeError(`${d.name} has no version ${version} (valid ${d.minVersion}-${d.maxVersion})`);
      }
      const w = Writer.alloc(d.size(message, version));
      d.write(w, message, version);
      return w.buf;
    },
  };
}
