import { randomBytes } from "node:crypto";

// Kafka's Uuid: 128 random bits (a version 4, variant 2 UUID) printed as unpadded base64url, so 22 characters.
// Kafka never hands out the all-zero id, the id 1 (the metadata topic's id) or one whose text starts with "-"
// (it would read as a command-line option); randomKafkaUuid skips the same ones.

const LENGTH = 22;

function encode(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function isZeroOrOne(bytes: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (bytes[i] !== 0) return false;
  return bytes[15] === 0 || bytes[15] === 1;
}

/** A new random id in Kafka's text form, as `kafka-storage random-uuid` prints. */
export function randomKafkaUuid(random: (n: number) => Uint8Array = randomBytes): string {
  for (;;) {
    const bytes = Uint8Array.from(random(16));
    // Version 4 and variant 2 bits, as java.util.UUID.randomUUID sets them.
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
    const text = encode(bytes);
    if (!isZeroOrOne(bytes) && !text.startsWith("-")) return text;
  }
}

/** The 16 bytes of a Kafka id, or a reason it is not one. */
export function parseKafkaUuid(text: string): { bytes: Uint8Array } | { error: string } {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return { error: "it has characters outside base64url (A-Z, a-z, 0-9, - and _)" };
  if (text.length !== LENGTH) return { error: `it is ${text.length} characters long, not ${LENGTH}` };
  const bytes = Buffer.from(text, "base64url");
  // 22 characters carry 132 bits. Like Java's decoder (and so Kafka), ignore the 4 spare ones: Kafka's own docs use
  // an example id whose spare bits are not zero.
  if (bytes.length !== 16) return { error: "it is not the base64url form of 16 bytes" };
  return { bytes: new Uint8Array(bytes) };
}

/**
 * Kafka's directory ids: a random id that is not one of the reserved ones (most significant 64 bits zero and least
 * significant below 100, used for "unassigned", "lost" and "migrating").
 */
export function randomDirectoryId(random: (n: number) => Uint8Array = randomBytes): string {
  for (;;) {
    const id = randomKafkaUuid(random);
    const bytes = Buffer.from(id, "base64url");
    const reserved = bytes.readBigUInt64BE(0) === 0n && bytes.readBigUInt64BE(8) < 100n;
    if (!reserved) return id;
  }
}
