import { describe, expect, it } from "vitest";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { brokerAddress } from "../support/cluster-records.ts";
import { requireReferenceKafka, runKafkaClass } from "../support/reference-kafka.ts";

// Kafka 4.3.1's `kafka-cluster unregister` (ClusterTool) against one controller and two brokers: broker 3 shuts down
// (fenced, still registered), the tool unregisters it through broker 2, which forwards UnregisterBroker to the active
// controller in an Envelope; asked again, straight at the controller (--bootstrap-controller), the id is unknown.
// The same broker started again (same id, same data) registers anew.

const cluster = clusterPerFile(
  { system: "tributary", topology: { controllers: 1, brokers: 2 } },
  requireReferenceKafka,
);

const clusterTool = (...args: string[]) => runKafkaClass("org.apache.kafka.tools.ClusterTool", args);

describe("kafka-cluster unregister against Tributary", () => {
  it("unregisters a stopped broker, refuses an unknown id, and the broker registers again at its restart", async () => {
    await cluster().kill(3, "SIGTERM");
    const done = await clusterTool("unregister", "--bootstrap-server", brokerAddress(cluster(), 2), "--id", "3");
    expect(done.stdout).toContain("Broker 3 is no longer registered.");
    const controller = cluster().controllerEndpoints()[0] ?? "";
    await expect(clusterTool("unregister", "--bootstrap-controller", controller, "--id", "3")).rejects.toThrow(
      /BrokerIdNotRegisteredException: Broker ID 3 is not currently registered/,
    );
    await cluster().restart(3);
    await cluster().waitForBrokers(60_000);
  }, 120_000);
});
