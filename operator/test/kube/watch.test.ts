// A watch stream line that is not a watch event must not end the process or the informer: the client ends that watch
// with a WatchStreamError and the informer re-lists. Tested on the real client over HTTPS against a scripted server
// (self-signed certificate from the openssl CLI), because the failure was an exception thrown in a stream callback.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, WatchStreamError, parseWatchLine } from "../../src/kube/client.ts";
import { Informer } from "../../src/kube/informer.ts";
import { KINDS, type KubeObject } from "../../src/kube/types.ts";

const cm = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion },
});

describe("parseWatchLine", () => {
  it("decodes an event", () => {
    expect(parseWatchLine(JSON.stringify({ type: "ADDED", object: cm("a", "2") }))).toEqual({
      type: "ADDED",
      object: cm("a", "2"),
    });
  });

  it.each([
    ["not JSON", "{not json", /\(not JSON\): \{not json/],
    ["an unknown type", JSON.stringify({ type: "UPSERTED", object: cm("a", "2") }), /no known type/],
    ["no object", JSON.stringify({ type: "ADDED" }), /no known type and object/],
    ["an object without metadata", JSON.stringify({ type: "MODIFIED", object: { kind: "ConfigMap" } }), /metadata/],
    ["a JSON scalar", "42", /no known type/],
    ["null", "null", /no known type/],
  ])("refuses %s with the start of the line", (_what, line, message) => {
    const result = parseWatchLine(line);
    expect(result).toBeInstanceOf(WatchStreamError);
    expect((result as Error).message).toMatch(message);
  });

  it("keeps an ERROR event's Status (it has no metadata)", () => {
    const line = JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    expect(parseWatchLine(line)).toMatchObject({ type: "ERROR", object: { code: 410 } });
  });

  it("cuts a long line in the message", () => {
    const result = parseWatchLine(`x${"y".repeat(10_000)}`);
    expect((result as Error).message.length).toBeLessThan(300);
  });
});

/** A scripted API server: each list and each watch request takes the next response from its script. */
class FakeApiServer {
  readonly lists: ((res: ServerResponse) => void)[] = [];
  readonly watches: ((res: ServerResponse) => void)[] = [];
  readonly requests: string[] = [];
  readonly open = new Set<ServerResponse>();
  server!: Server;
  kubeconfig = "";

  async start(dir: string): Promise<void> {
    const key = join(dir, "tls.key");
    const cert = join(dir, "tls.crt");
    execFileSync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
    ]);
    this.server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      const url = new URL(req.url ?? "/", "https://x");
      const watch = url.searchParams.get("watch") === "true";
      this.requests.push(watch ? `watch@${url.searchParams.get("resourceVersion")}` : "list");
      const next = (watch ? this.watches : this.lists).shift();
      if (next === undefined) {
        // Out of script: hold the request open, as a quiet watch would.
        this.open.add(res);
        return;
      }
      next(res);
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    this.kubeconfig = join(dir, "kubeconfig");
    const ca = readFileSync(cert).toString("base64");
    writeFileSync(
      this.kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": ca } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const list =
  (resourceVersion: string, items: KubeObject[]) =>
  (res: ServerResponse): void => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ kind: "ConfigMapList", metadata: { resourceVersion }, items }));
  };

/** A watch response that writes `lines` and then stays open. */
const stream =
  (server: FakeApiServer, ...lines: string[]) =>
  (res: ServerResponse): void => {
    res.writeHead(200, { "Content-Type": "application/json" });
    for (const line of lines) res.write(`${line}\n`);
    server.open.add(res);
  };

const event = (type: string, obj: KubeObject): string => JSON.stringify({ type, object: obj });

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("watch streams with malformed lines", () => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-watch-"));
  const server = new FakeApiServer();
  let client: KubeClient;
  beforeAll(async () => {
    await server.start(dir);
    client = KubeClient.fromKubeconfig(server.kubeconfig);
  });
  afterAll(async () => {
    client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ends the watch with a WatchStreamError after delivering the good events before the bad line", async () => {
    server.watches.push(stream(server, event("ADDED", cm("a", "2")), "this is not json", event("ADDED", cm("b", "3"))));
    const seen: string[] = [];
    const controller = new AbortController();
    const watching = client.watch(
      KINDS.ConfigMap,
      { namespace: "ns", resourceVersion: "1", signal: controller.signal },
      (t, o) => seen.push(`${t} ${o.metadata.name}`),
    );
    await expect(watching).rejects.toThrow(/malformed watch event \(not JSON\): this is not json/);
    expect(seen).toEqual(["ADDED a"]);
    controller.abort();
  });

  it("ends the watch when the event handler throws, instead of throwing in the stream callback", async () => {
    server.watches.push(stream(server, event("ADDED", cm("a", "2"))));
    const controller = new AbortController();
    const watching = client.watch(
      KINDS.ConfigMap,
      { namespace: "ns", resourceVersion: "1", signal: controller.signal },
      () => {
        throw new Error("handler bug");
      },
    );
    await expect(watching).rejects.toThrow(/the watch event handler threw: Error: handler bug/);
    controller.abort();
  });

  it("keeps the informer running: it logs the bad line, re-lists and sees later changes", async () => {
    server.requests.length = 0;
    server.lists.push(list("1", [cm("a", "1")]), list("5", [cm("a", "4"), cm("b", "5")]));
    server.watches.push(stream(server, event("MODIFIED", cm("a", "2")), '{"type":"MODIFIED","object":'));
    server.watches.push(stream(server, event("ADDED", cm("c", "6"))));
    const logLines: string[] = [];
    const logger = pino(
      { level: "warn" },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString("utf8"));
          done();
        },
      }),
    );
    const informer = new Informer<KubeObject>(client, { type: KINDS.ConfigMap, namespace: "ns", logger });
    const changes: string[] = [];
    informer.on((obj) => changes.push(`${obj.metadata.name}@${obj.metadata.resourceVersion}`));
    const controller = new AbortController();
    const running = informer.run(controller.signal);
    await until("c from the watch after the re-list", () => informer.get("ns/c") !== undefined);
    controller.abort();
    await running;
    expect(server.requests).toEqual(["list", "watch@1", "list", "watch@5"]);
    expect(changes).toEqual(["a@1", "a@2", "a@4", "b@5", "c@6"]);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["a", "b", "c"]);
    const warning = logLines
      .map((l) => JSON.parse(l) as { msg: string; err?: { message: string } })
      .find((l) => l.msg === "Watch failed, re-listing");
    expect(warning?.err?.message).toMatch(/malformed watch event \(not JSON\): \{"type":"MODIFIED","object":/);
  });
});
