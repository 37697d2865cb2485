// The controller layer (ADR 22): commands in, metadata records out. Pure: no I/O (lint-enforced).
export * from "./features.ts";
export * from "./placement.ts";
export * from "./records.ts";
export * from "./quorum-controller.ts";
