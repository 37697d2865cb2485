const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

/** Formats 16 bytes as a canonical lower-case UUID string. */
export function uuidFromBytes(buf: Uint8Array, offset: number): string {
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[buf[offset + i] ?? 0];
  }
  return s;
}

const UUID_PATTERN = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Writes a UUID string (with or without dashes) as 16 bytes. */
export function uuidToBytes(value: string, buf: Uint8Array, offset: number): void {
  const hex = value.replaceAll("-", "");
  for (let i = 0; i < 16; i++) buf[offset + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16) || 0;
}

/** Kafka prints UUIDs (topic ids, cluster ids) as unpadded URL-safe base64 of the 16 bytes. */
export function uuidToKafkaBase64(value: string): string {
  const buf = Buffer.alloc(16);
  uuidToBytes(value, buf, 0);
  return buf.toString("base64url");
}

export function uuidFromKafkaBase64(value: string): string {
  return uuidFromBytes(Buffer.from(value, "base64url"), 0);
}
