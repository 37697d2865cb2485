import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { resolveBrokerConfig, type BrokerConfig } from "../../src/config/broker-config.ts";
import { MetadataQuorum } from "../../src/node/metadata-quorum.ts";
import { planNode } from "../../src/node/node-plan.ts";
import { startController, type RunningController } from "../../src/quorum/controller-runtime.ts";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { createDispatcher, type Dispatcher } from "../../src/handlers/dispatcher.ts";
import type { MetadataImage } from "../../src/metadata/image/index.ts";
import { TopicRecord } from "../../src/protocol/index.ts";
import { DEFAULT_RAFT_TIMING } from "../../src/raft/index.ts";
import { waitFor } from "../network/helpers.ts";
import { bindControllerListeners } from "../quorum/controller-listeners.ts";

// The node's metadata quorum as an image source: nothing is published before metadata.version is committed (so the
// first image carries the bootstrap records) nor before the node caught up with the high watermark it first learnt,
// and a subscriber that cannot apply an image fails the node.

const logger = pino({ level: "silent" });
let dir: string | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function createQuorum(config: BrokerConfig, metadataDir: string): MetadataQuorum {
  const plan = planNode(config);
  const quorum = MetadataQuorum.create({
    config,
    plan,
    voters: plan.voters,
    clusterId: "MkU3OEVBNTcwNTJENDM2Qg",
    metadataDir,
    logger,
  });
  closers.push(() => quorum.close());
  return quorum;
}

async function selfQuorum(): Promise<{
  quorum: MetadataQuorum;
  start: () => Promise<void>;
  controller: () => RunningController | undefined;
}> {
  dir = await mkdtemp(join(tmpdir(), "metadata-quorum-"));
  const { config } = resolveBrokerConfig({ overrides: ["node.id=1", `log.dirs=${dir}`], cwd: dir });
  const quorum = createQuorum(config, dir);
  let controller: RunningController | undefined;
  const start = async () => {
    await quorum.start();
    const running = startController({
      driver: quorum.driver,
      loader: quorum.loader,
      quorum: quorum.controllerPort(),
      config,
      logger,
    });
    controller = running;
    closers.push(() => running.close());
  };
  return { quorum, start, controller: () => controller };
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

  it("is the process's one committed image: the controller and the broker's subscribers share the loader's", async () => {
    const { quorum, start, controller } = await selfQuorum();
    await start();
    await quorum.firstImage;
    await waitFor(() => controller()?.runtime.isActive, "the controller active");
    await quorum.caughtUpWithCommitted(10_000);
    expect(controller()?.runtime.committedImage).toBe(quorum.loader.image);
    expect(quorum.image()).toBe(quorum.loader.image);
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

  it("a node joining far behind publishes its first image only once caught up to the high watermark it first learnt", async () => {
    dir = await mkdtemp(join(tmpdir(), "metadata-quorum-join-"));
    const dispatchers = new Map<number, Dispatcher>();
    const servers = await bindControllerListeners([1], dispatchers, logger);
    for (const server of servers.values()) closers.push(() => server.close(100));
    const port = servers.get(1)?.listeners[0]?.port ?? 0;
    const voters = `controller.quorum.voters=1@127.0.0.1:${port}`;
    const node = (id: number, overrides: string[]) => {
      const nodeDir = join(dir ?? "", `node-${id}`);
      const { config } = resolveBrokerConfig({
        overrides: [
          `node.id=${id}`,
          `log.dirs=${nodeDir}`,
          voters,
          "controller.listener.names=CONTROLLER",
          ...overrides,
        ],
        cwd: nodeDir,
      });
      return { config, quorum: createQuorum(config, nodeDir) };
    };

    // A single controller whose log holds several fetch answers' worth of topics.
    const controllerNode = node(1, ["process.roles=controller", `listeners=CONTROLLER://127.0.0.1:${port}`]);
    await controllerNode.quorum.start();
    const { driver } = controllerNode.quorum;
    const controller = startController({
      driver,
      loader: controllerNode.quorum.loader,
      quorum: controllerNode.quorum.controllerPort(),
      config: controllerNode.config,
      logger,
    });
    closers.push(() => controller.close());
    dispatchers.set(1, createDispatcher({ handlers: controller.handlers, logger }));
    await controllerNode.quorum.firstImage;
    const topics = 3 * DEFAULT_RAFT_TIMING.maxFetchEntries;
    for (let batch = 0; batch < topics / 100; batch++) {
      const records = Array.from({ length: 100 }, (_, i) =>
        encodeRecord(record(TopicRecord, { name: `t${batch * 100 + i}`, topicId: randomUUID() }, 0)),
      );
      expect(driver.propose(records)).not.toBeNull();
    }
    const end = driver.status().logEndOffset;
    await waitFor(() => driver.status().highWatermark >= end, "the topics committed");

    // A broker joining now learns a high watermark at or past `end` from its first fetch answer, which carries at
    // most maxFetchEntries of it.
    const broker = node(2, ["process.roles=broker", "listeners=PLAINTEXT://127.0.0.1:0"]);
    const published: MetadataImage[] = [];
    broker.quorum.subscribe((image) => void published.push(image));
    await broker.quorum.start();
    const first = await broker.quorum.firstImage;
    expect(first.topicIdsByName.size).toBe(topics);
    expect(published[0]?.topicIdsByName.size).toBe(topics);
    expect(first.provenance.offset).toBeGreaterThanOrEqual(end - 1);
  });
});
