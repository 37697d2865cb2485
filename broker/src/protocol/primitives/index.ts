export { DecodeError, EncodeError } from "./decode-error.ts";
export { Reader, type TaggedField } from "./reader.ts";
export { Writer, sizeOf } from "./writer.ts";
export * from "./varint.ts";
export * from "./uuid.ts";
