import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { MetadataQuorum } from "../../src/node/metadata-quorum.ts";
import { planNode } from "../../src/node/node-plan.ts";
import { startController } from "../../src/quorum/controller-runtime.ts";
import { waitFor } from "../network/helpers.ts";

// The node's metadata quorum as an image source: nothing is published before metadata.version is committed (so the
// first image carries the bootstrap records), and a subscriber that cannot apply an image fails the node.

const logger = pino({ level: "silent" });
let dir: string | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function selfQuorum(): Promise<{ quorum: MetadataQuorum; start: () => Promise<void> }> {
  dir = await mkdtemp(join(tmpdir(), "metadata-quorum-"));
  const { config } = resolveBrokerConfig({ overrides: ["node.id=1", `log.dirs=${dir}`], cwd: dir });
  const plan = planNode(config);
  const quorum = MetadataQuorum.create({
    config,
    plan,
    voters: plan.voters,
    clusterId: "MkU3OEVBNTcwNTJENDM2Qg",
    metadataDir: dir,
    logger,
  });
  closers.push(() => quorum.close());
  const start = async () => {
    await quorum.start();
    const controller = startController({ driver: quorum.driver, quorum: quorum.controllerPort(), config, logger });
    closers.push(() => controller.close());
  };
  return { quorum, start };
}

describe("MetadataQuorum", () => {
  it("publishes its first image only with metadata.version, so it already holds the bootstrap records", async () => {
    const { quorum, start } = await selfQuorum();
    const published: number[] = [];
    quorum.subscribe((image) => void published.push(image.features.get("metadata.version") ?? -1));
    await start();
    const first = await quorum.firstImage;
    expect(first.features.get("metadata.version")).toBeGreaterThan(0);
    expect(published[0]).toBe(first.features.get("metadata.version"));
    expect(quorum.appliedOffset()).toBeGreaterThan(0);
  });

  it("reports a failure when a subscriber cannot apply an image", async () => {
    const { quorum, start } = await selfQuorum();
    const failures: Error[] = [];
    quorum.onFailure((err) => failures.push(err));
    quorum.subscribe(() => {
      throw new Error("cannot open a log");
    });
    await start();
    await expect(quorum.firstImage).rejects.toThrow("cannot open a log");
    await waitFor(() => failures.length > 0, "the failure reported");
    expect(failures.map((e) => e.message)).toEqual(["cannot open a log"]);
  });
});
