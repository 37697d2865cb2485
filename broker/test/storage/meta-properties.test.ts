import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  formatMetaProperties,
  MetaPropertiesError,
  parseMetaProperties,
  readMetaProperties,
  writeMetaProperties,
} from "../../src/storage/meta-properties.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tributary-meta-"));
  dirs.push(d);
  return d;
}

describe("meta.properties", () => {
  it("writes Kafka's version 1 keys", () => {
    const text = formatMetaProperties({
      clusterId: "ABEiM0RVRneImaq7zN3u_w",
      nodeId: 3,
      directoryId: "xJc1bGxUQ0ehMyP9ewvTbA",
    });
    const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines.sort()).toEqual(
      ["version=1", "cluster.id=ABEiM0RVRneImaq7zN3u_w", "node.id=3", "directory.id=xJc1bGxUQ0ehMyP9ewvTbA"].sort(),
    );
  });

  it("reads a file Kafka wrote (comment header, any key order)", () => {
    const text =
      "#\n#Sun Dec 06 03:00:00 UTC 2026\nnode.id=1\ndirectory.id=xJc1bGxUQ0ehMyP9ewvTbA\nversion=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n";
    expect(parseMetaProperties(text, "f")).toEqual({
      clusterId: "MkU3OEVBNTcwNTJENDM2Qk",
      nodeId: 1,
      directoryId: "xJc1bGxUQ0ehMyP9ewvTbA",
    });
  });

  it.each([
    ["version=0\nbroker.id=1\ncluster.id=x\n", "version 0 is not supported"],
    ["version=1\nnode.id=1\n", "cluster.id is missing"],
    ["version=1\ncluster.id=x\nnode.id=-1\n", "node.id is missing"],
  ])("rejects %j", (text, message) => {
    expect(() => parseMetaProperties(text, "dir/meta.properties")).toThrow(MetaPropertiesError);
    expect(() => parseMetaProperties(text, "dir/meta.properties")).toThrow(message);
  });

  it("round-trips through a directory it creates, and reads null where there is none", async () => {
    const root = tempDir();
    const dir = join(root, "a", "b");
    expect(await readMetaProperties(dir)).toBeNull();
    const meta = {
      clusterId: "3f0a9c2e-5b1d-4e7f-8a6b-2c9d0e1f3a4b",
      nodeId: 0,
      directoryId: "xJc1bGxUQ0ehMyP9ewvTbA",
    };
    await writeMetaProperties(dir, meta);
    expect(await readMetaProperties(dir)).toEqual(meta);
    expect(readFileSync(join(dir, "meta.properties"), "utf8")).toContain("version=1\n");
    writeFileSync(join(dir, "meta.properties"), "version=1\n");
    await expect(readMetaProperties(dir)).rejects.toThrow(MetaPropertiesError);
  });
});
