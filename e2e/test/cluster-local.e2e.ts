// Tier 3 ("local"): pods really run. An HTTP server Deployment behind a Service, and a Job in another pod that reaches
// it through the Service's DNS name (CoreDNS + kube-proxy), using the e2e-client image from `make image`.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { localTierUnavailable } from "../src/cluster/index.ts";
import { imageArchive, localOrAttached, waitForKubectl } from "./helpers.ts";
import { useCluster } from "../src/suite.ts";

const attached = (process.env["TRIBUTARY_E2E_KUBECONFIG"] ?? "") !== "";
const unavailable = attached
  ? undefined
  : (localTierUnavailable() ??
    (existsSync(imageArchive("e2e-client")) ? undefined : "no e2e-client image: run 'make image' first"));

const NS = "tier3";
const serverJs = `require("node:http").createServer((q, s) => s.end("pong from " + require("node:os").hostname())).listen(8080)`;
const clientJs =
  `fetch("http://echo.${NS}.svc.cluster.local:8080").then(r => r.text())` +
  `.then(t => { console.log(t); process.exit(t.startsWith("pong") ? 0 : 1) }, e => { console.error(e); process.exit(1) })`;

function manifests(part: "server" | "client"): string {
  const podSpec = (command: string[], readinessProbe?: object): object => ({
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 65532 },
    containers: [
      {
        name: "main",
        image: "tributary/e2e-client:dev",
        imagePullPolicy: "Never",
        command,
        ...(readinessProbe === undefined ? {} : { readinessProbe }),
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      },
    ],
  });
  const server = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "echo", namespace: NS },
      spec: {
        selector: { matchLabels: { app: "echo" } },
        template: {
          metadata: { labels: { app: "echo" } },
          spec: podSpec(["/usr/local/bin/node", "-e", serverJs], { tcpSocket: { port: 8080 }, periodSeconds: 1 }),
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: NS },
      spec: { selector: { app: "echo" }, ports: [{ port: 8080 }] },
    },
  ];
  const client = [
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "fetch", namespace: NS },
      spec: {
        backoffLimit: 6,
        template: {
          spec: { ...podSpec(["/usr/local/bin/node", "-e", clientJs]), restartPolicy: "Never" },
        },
      },
    },
  ];
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: part === "server" ? server : client });
}

describe.skipIf(unavailable !== undefined)("cluster tier local", () => {
  const cluster = useCluster(() => localOrAttached([imageArchive("e2e-client")]));

  it("runs pods that reach each other through Service DNS", async () => {
    const c = cluster.get();
    console.log(`tier local started in ${c.startMs} ms`);
    await c.kubectl(["apply", "-f", "-"], manifests("server"));
    await c.kubectl(["wait", "-n", NS, "--for=condition=Available", "deployment/echo", "--timeout=50s"]);
    // Routing needs the Service's endpoints; a client started before they exist is refused by kube-proxy's reject rule.
    await waitForKubectl(
      c,
      "a ready endpoint behind service echo",
      [
        "get",
        "endpointslices",
        "-n",
        NS,
        "-l",
        "kubernetes.io/service-name=echo",
        "-o",
        "jsonpath={.items[*].endpoints[*].conditions.ready}",
      ],
      (out) => out.includes("true"),
      60_000,
    );
    await c.kubectl(["apply", "-f", "-"], manifests("client"));
    await waitForKubectl(
      c,
      "job fetch to complete",
      ["get", "job", "fetch", "-n", NS, "-o", "jsonpath={.status.succeeded}/{.status.failed}"],
      (out) => out.startsWith("1/") || /\/[4-9]/.test(out),
      180_000,
    );
    const status = await c.kubectl(["get", "job", "fetch", "-n", NS, "-o", "jsonpath={.status.succeeded}"]);
    // The logs of the pod that succeeded: `logs job/fetch` may pick an earlier attempt that failed.
    const succeeded = await c.kubectl([
      "get",
      "pods",
      "-n",
      NS,
      "-l",
      "job-name=fetch",
      "--field-selector=status.phase=Succeeded",
      "-o",
      "jsonpath={.items[0].metadata.name}",
    ]);
    const logs = await c.kubectl(["logs", "-n", NS, succeeded.trim()]).catch((error: unknown) => String(error));
    expect(status, logs).toBe("1");
    expect(logs).toContain("pong from echo-");
    await c.kubectl(["delete", "namespace", NS, "--wait=false"]);
  });
});

if (unavailable !== undefined) {
  describe("cluster tier local", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}
