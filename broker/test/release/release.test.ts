// The release stamp (src/release.ts): a source build is the package's version with every level the code knows; a
// build stamped as an earlier release with a lower highest metadata.version knows, supports and starts at no level
// above it (what the upgrade e2e's previous-release image is).
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RELEASE } from "../../src/release.ts";

afterEach(() => {
  vi.doUnmock("../../src/release.ts");
  vi.resetModules();
});

async function featuresStampedWith(stamp: { version: string; maxMetadataVersion: number | undefined }) {
  vi.resetModules();
  vi.doMock("../../src/release.ts", () => ({ RELEASE: stamp }));
  return import("../../src/controller/features.ts");
}

describe("release stamp", () => {
  it("a source build is broker/package.json's version with every level the code knows", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(RELEASE).toEqual({ version: pkg.version, maxMetadataVersion: undefined });
    const f = await import("../../src/controller/features.ts");
    expect(f.MAX_METADATA_VERSION).toBe(f.METADATA_VERSIONS.at(-1)?.level);
    expect(f.SUPPORTED_FEATURES.get(f.ELR_FEATURE)?.max).toBe(1);
  });

  it("a build stamped with a lower highest level supports, knows and starts at none above it", async () => {
    const f = await featuresStampedWith({ version: "0.0.9", maxMetadataVersion: 22 });
    expect(f.MAX_METADATA_VERSION).toBe(22);
    expect(f.METADATA_VERSIONS.map((v) => v.level)).toEqual([21, 22]);
    expect(f.LATEST_METADATA_VERSION).toBeLessThanOrEqual(22);
    expect(f.SUPPORTED_FEATURES.get(f.METADATA_VERSION)).toEqual({ min: 21, max: 22 });
    // ELR needs level 23: the older build cannot turn it on.
    expect(f.SUPPORTED_FEATURES.get(f.ELR_FEATURE)?.max).toBe(0);
  });

  it("a stamp below the lowest level is refused when the build loads, saying why", async () => {
    await expect(featuresStampedWith({ version: "0.0.1", maxMetadataVersion: 20 })).rejects.toThrow(
      /release 0\.0\.1 is stamped with metadata\.version 20, below the lowest level 21/,
    );
  });
});
