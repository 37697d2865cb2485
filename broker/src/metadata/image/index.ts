// The metadata image every node builds from the committed metadata log (ADR 22), and the questions handlers ask of
// it. Pure: no I/O (lint-enforced).
export * from "./metadata-image.ts";
export * from "./metadata-delta.ts";
export * from "./cluster-view.ts";
export * from "./image-records.ts";
