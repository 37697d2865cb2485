// Smoke test (issue 4): our broker image as a hand-written StatefulSet (1 replica, headless + bootstrap Service) on
// tier 3 or kind; a client Job in another pod produces and consumes through the bootstrap Service's DNS name.
// Skips, saying why, until the broker (broker/bin/tributary-broker, issue 3) and the images exist.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { localTierUnavailable } from "../src/cluster/index.ts";
import { REPO, imageArchive, localOrAttached, waitForKubectl } from "./helpers.ts";
import { useCluster } from "../src/suite.ts";

const attached = (process.env["TRIBUTARY_E2E_KUBECONFIG"] ?? "") !== "";
function whyNot(): string | undefined {
  if (!existsSync(join(REPO, "broker", "bin", "tributary-broker"))) {
    return "broker/bin/tributary-broker does not exist yet (the broker, issue 3)";
  }
  if (!existsSync(join(REPO, "broker", "dist", "src", "main.js"))) return "broker/dist is not built (npx tsc -b)";
  if (attached) return undefined;
  const local = localTierUnavailable();
  if (local !== undefined) return local;
  for (const image of ["broker", "e2e-client"]) {
    if (!existsSync(imageArchive(image))) return `no ${image} image: run 'make image' first`;
  }
  return undefined;
}
const unavailable = whyNot();
const NS = "tributary-smoke";
const manifest = (file: string): string => readFileSync(join(REPO, "e2e", "manifests", "smoke", file), "utf8");

describe.skipIf(unavailable !== undefined)("smoke: broker StatefulSet + client Job", () => {
  const cluster = useCluster(async () => {
    const c = await localOrAttached([imageArchive("broker"), imageArchive("e2e-client")]);
    await c.kubectl(["create", "namespace", NS]);
    return c;
  });
  // Registered after useCluster's hooks, so it runs before the cluster stops.
  afterAll(async () => {
    const c = cluster.get();
    if (cluster.failed()) {
      for (const target of ["statefulset/tributary", "job/smoke-client"]) {
        console.warn(await c.kubectl(["logs", "-n", NS, target, "--tail=100"]).catch(String));
      }
    }
    if (attached) await c.kubectl(["delete", "namespace", NS, "--wait=false"]).catch(() => "");
  });

  it("the broker pod becomes Ready", async () => {
    const c = cluster.get();
    await c.kubectl(["apply", "-n", NS, "-f", "-"], manifest("broker.yaml"));
    await c.kubectl(["rollout", "status", "-n", NS, "statefulset/tributary", "--timeout=180s"]);
  });

  it("a client Job produces and consumes through tributary-bootstrap", async () => {
    const c = cluster.get();
    await c.kubectl(["apply", "-n", NS, "-f", "-"], manifest("client-job.yaml"));
    await waitForKubectl(
      c,
      "job smoke-client to finish",
      ["get", "job", "smoke-client", "-n", NS, "-o", "jsonpath={.status.succeeded}/{.status.failed}"],
      (out) => out.startsWith("1/") || /\/[3-9]/.test(out),
      240_000,
    );
    const logs = await c.kubectl(["logs", "-n", NS, "job/smoke-client"]).catch(String);
    const succeeded = await c.kubectl(["get", "job", "smoke-client", "-n", NS, "-o", "jsonpath={.status.succeeded}"]);
    expect(succeeded, logs).toBe("1");
    expect(logs).toContain("consumed 100 messages back");
  });
});

if (unavailable !== undefined) {
  describe("smoke: broker StatefulSet + client Job", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}
