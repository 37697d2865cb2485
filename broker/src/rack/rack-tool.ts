// tributary-rack: the init step of a rack-aware broker pod. Reads the pod's Node from the API server with the pod's
// ServiceAccount token (its RBAC allows get on nodes and nothing more) and writes broker.rack, from one of the node's
// labels, into a file the broker reads with --override-file. node:https rather than a Kubernetes client library: one
// GET needs no dependency, and https takes the cluster CA per request (fetch would need undici's dispatcher for that).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { parseArgs } from "node:util";
import { ExitCode } from "../runtime/exit-codes.ts";
import { processIo, type ProcessIo } from "../runtime/process-io.ts";
import { rackOfNode, rackProperties } from "./node-rack.ts";

export const RACK_USAGE = `Usage: tributary-rack --topology-key <label> --output <file> [--node <name>] [--server <url>]
                      [--credentials <dir>]

Writes broker.rack=<value of the node's label> into <file>, for tributary-broker --override-file <file>. A node
without the label (or with a value that is no rack name) gets a file without broker.rack: the broker starts without
a rack, and the operator reports the node in a Warning condition.

Options:
  -k, --topology-key <label>  Node label holding the rack, e.g. topology.kubernetes.io/zone
  -o, --output <file>         Where to write the properties
  -n, --node <name>           The node (default: $NODE_NAME, from the downward API's spec.nodeName)
      --server <url>          The API server (default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
      --credentials <dir>     Holds token and ca.crt (default: ${"/var/run/secrets/kubernetes.io/serviceaccount"})
  -h, --help                  Show this help

Exit codes: 0 written, 1 the node could not be read (retried by the kubelet), 2 invalid arguments.`;

const DEFAULT_CREDENTIALS = "/var/run/secrets/kubernetes.io/serviceaccount";
const TIMEOUT_MS = 10_000;

export async function rackMain(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: ProcessIo = processIo,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "topology-key": { type: "string", short: "k" },
        output: { type: "string", short: "o" },
        node: { type: "string", short: "n" },
        server: { type: "string" },
        credentials: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`tributary-rack: ${err instanceof Error ? err.message : String(err)}\n\n${RACK_USAGE}\n`);
    return ExitCode.Config;
  }
  if (values.help === true) {
    io.stdout(`${RACK_USAGE}\n`);
    return ExitCode.Ok;
  }
  const key = values["topology-key"];
  const output = values.output;
  const node = values.node ?? env["NODE_NAME"];
  const server = values.server ?? serverFromEnv(env);
  const missing = [
    key === undefined || key === "" ? "--topology-key" : undefined,
    output === undefined || output === "" ? "--output" : undefined,
    node === undefined || node === "" ? "--node (or NODE_NAME)" : undefined,
    server === undefined ? "--server (or KUBERNETES_SERVICE_HOST)" : undefined,
  ].filter((m) => m !== undefined);
  if (key === undefined || output === undefined || node === undefined || server === undefined || missing.length > 0) {
    io.stderr(`tributary-rack: ${missing.join(", ")} required\n\n${RACK_USAGE}\n`);
    return ExitCode.Config;
  }
  const credentials = values.credentials ?? DEFAULT_CREDENTIALS;
  let body: string;
  try {
    const token = readFileSync(`${credentials}/token`, "utf8").trim();
    const ca = readFileSync(`${credentials}/ca.crt`, "utf8");
    body = await getJson(new URL(`/api/v1/nodes/${encodeURIComponent(node)}`, server), token, ca);
  } catch (err) {
    io.stderr(`tributary-rack: cannot read node ${node}: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Failure;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    io.stderr(`tributary-rack: the API server answered node ${node} with something other than JSON\n`);
    return ExitCode.Failure;
  }
  const rack = rackOfNode(parsed, key);
  // Written whole, then renamed: the broker never reads half a file.
  writeFileSync(`${output}.tmp`, rackProperties(node, key, rack));
  renameSync(`${output}.tmp`, output);
  if ("rack" in rack) io.stdout(`tributary-rack: broker.rack=${rack.rack} (label ${key} of node ${node})\n`);
  else io.stderr(`tributary-rack: ${rack.missing}; the broker starts without broker.rack\n`);
  return ExitCode.Ok;
}

/** In a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host is bracketed). */
function serverFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const host = env["KUBERNETES_SERVICE_HOST"];
  if (host === undefined || host === "") return undefined;
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443";
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** GET `url` with a bearer token, trusting only `ca`; the body of a 200, else an error with the API's message. */
function getJson(url: URL, token: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "GET", ca, headers: { authorization: `Bearer ${token}`, accept: "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode === 200) return resolve(text);
          let message = text.slice(0, 300);
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // Not a Status object: the raw text says it.
          }
          reject(new Error(`HTTP ${res.statusCode ?? "?"} from ${url.origin}: ${message}`));
        });
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer from ${url.origin} in ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}
