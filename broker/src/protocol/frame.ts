import {
  API_CODECS,
  CONTROLLER_API_CODECS,
  RequestHeader,
  ResponseHeader,
  type RequestHeader as RequestHeaderMessage,
} from "./generated/index.ts";
import { ApiKey } from "./generated/index.ts";
import type { MessageCodec } from "./codec-runtime.ts";
import { Reader } from "./primitives/reader.ts";
import { SplicingWriter, Writer } from "./primitives/writer.ts";
import { DecodeError } from "./primitives/decode-error.ts";

// Kafka frames are an int32 size, a header and a body. The header's own version follows from the body's: flexible
// bodies use the tagged-field headers (request v2, response v1), with two exceptions handled here.

export type ApiCodecs = (typeof API_CODECS)[keyof typeof API_CODECS];

export function codecsFor(apiKey: number): ApiCodecs | undefined {
  return (API_CODECS as Record<number, ApiCodecs | undefined>)[apiKey];
}

function isFlexible(apiKey: number, apiVersion: number): boolean {
  // The controller listener's APIs (Vote, BeginQuorumEpoch, ...) frame the same way as the broker's.
  const codecs =
    codecsFor(apiKey) ??
    (CONTROLLER_API_CODECS as Record<number, (typeof CONTROLLER_API_CODECS)[keyof typeof CONTROLLER_API_CODECS]>)[
      apiKey
    ];
  // Versions above the known maximum keep the flexibility of the newest one we know: ApiVersions requests from newer
  // clients must still have their header parsed to be answered with UNSUPPORTED_VERSION.
  return codecs !== undefined && codecs.request.flexibleFrom !== null && apiVersion >= codecs.request.flexibleFrom;
}

export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  return isFlexible(apiKey, apiVersion) ? 2 : 1;
}

/** ApiVersions responses always use header v0 so that a client that does not yet know our versions can read them. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(apiKey, apiVersion) ? 1 : 0;
}

export interface ParsedRequest {
  header: RequestHeaderMessage;
  headerVersion: number;
  /** Positioned at the first byte of the body. */
  body: Reader;
}

/** Parses the header of a request frame (size prefix already removed). */
export function parseRequestHeader(frame: Buffer): ParsedRequest {
  if (frame.length < 8) throw new DecodeError(`request of ${frame.length} bytes is too short for a header`, 0);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const body = new Reader(frame);
  const header = RequestHeader.read(body, headerVersion);
  return { header, headerVersion, body };
}

/** Encodes a response frame without its size prefix: header then body, in one allocation. */
export function encodeResponse<T>(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  codec: MessageCodec<T>,
  body: T,
): Buffer {
  const headerVersion = responseHeaderVersion(apiKey, apiVersion);
  const header = { correlationId };
  const size = ResponseHeader.size(header, headerVersion) + codec.size(body, apiVersion);
  const w = Writer.alloc(size);
  ResponseHeader.write(w, header, headerVersion);
  codec.write(w, body, apiVersion);
  return w.buf;
}

/**
 * encodeResponse as a list of chunks to be written out in order (one writev), with each byte value in `byReference`
 * a chunk of its own instead of copied into the encoded buffer. Each of them must be a field value the message writes
 * exactly once; if the encoding does not bear that out (a value this version does not carry, or one given twice),
 * the response is encoded as one buffer instead, so the answer is the same either way.
 */
export function encodeResponseChunks<T>(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  codec: MessageCodec<T>,
  body: T,
  byReference: ReadonlySet<Uint8Array>,
): Uint8Array[] {
  let referenced = 0;
  for (const data of byReference) referenced += data.length;
  if (referenced === 0) return [encodeResponse(apiKey, apiVersion, correlationId, codec, body)];
  const headerVersion = responseHeaderVersion(apiKey, apiVersion);
  const header = { correlationId };
  const size = ResponseHeader.size(header, headerVersion) + codec.size(body, apiVersion);
  if (size >= referenced) {
    const w = new SplicingWriter(Buffer.allocUnsafe(size - referenced), byReference);
    try {
      ResponseHeader.write(w, header, headerVersion);
      codec.write(w, body, apiVersion);
      if (w.offset === w.buf.length && w.referencedBytes === referenced) return w.chunks();
    } catch {
      // A buffer too small for what was written throws (RangeError): the values were not all written once.
    }
  }
  return [encodeResponse(apiKey, apiVersion, correlationId, codec, body)];
}

/** Encodes a request frame without its size prefix, as a client would send it. */
export function encodeRequest<T>(
  header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
  codec: MessageCodec<T>,
  body: T,
): Buffer {
  const headerVersion = requestHeaderVersion(header.apiKey, header.apiVersion);
  const h: RequestHeaderMessage = {
    requestApiKey: header.apiKey,
    requestApiVersion: header.apiVersion,
    correlationId: header.correlationId,
    clientId: header.clientId,
  };
  const w = Writer.alloc(RequestHeader.size(h, headerVersion) + codec.size(body, header.apiVersion));
  RequestHeader.write(w, h, headerVersion);
  codec.write(w, body, header.apiVersion);
  return w.buf;
}

/** Reads a response frame (size prefix removed) for a request the caller sent. */
export function decodeResponse<T>(frame: Buffer, apiKey: number, apiVersion: number, codec: MessageCodec<T>) {
  const r = new Reader(frame);
  const header = ResponseHeader.read(r, responseHeaderVersion(apiKey, apiVersion));
  const body = codec.read(r, apiVersion);
  r.expectEnd(codec.name);
  return { correlationId: header.correlationId, body };
}
