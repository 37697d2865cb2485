// The metadata image every node builds from the committed metadata log (ADR 22). Pure: no I/O (lint-enforced).
export * from "./metadata-image.ts";
export * from "./metadata-delta.ts";
