// How the client reaches and authenticates to the API server. @kubernetes/client-node's KubeConfig does all of this, but
// its module (config.js) imports the library's generated API models: +61 MiB of RSS at import with the chart's Node
// flags (+66 MiB without), most of the operator's 100 MiB (docs/operator.md, "Operator memory"). So the start-up path
// takes from the library only config_types.js, which imports nothing but node:fs (+1 MiB): its parsing of a
// kubeconfig's clusters, users and contexts, the one KubeConfig.loadFromString uses. What KubeConfig does in config.js
// is done here: which file (or in-cluster), reading it, the TLS material with paths relative to the file, and the
// Authorization header (a token, basic auth, or a token file re-read as the kubelet rotates it). A kubeconfig this
// does not handle (exec credential plugins, auth providers, impersonation, proxies) is handed to KubeConfig itself,
// imported only then.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { RequestOptions } from "node:https";
// Deep imports: the package has no exports map, and its index (like config.js) loads the generated models.
import {
  ActionOnInvalid,
  newClusters,
  newContexts,
  newUsers,
  type User,
} from "@kubernetes/client-node/dist/config_types.js";

/** Where the client sends requests and what each request needs (TLS material, Authorization). */
export interface Connection {
  readonly server: URL;
  /** Adds TLS and authentication options to a request (may re-read a rotated token file). */
  apply(opts: RequestOptions): Promise<void>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A projected ServiceAccount token is rotated by the kubelet (at 80 % of its hour at the earliest): re-read it this often. */
const TOKEN_FILE_TTL_MS = 60_000;

class Unsupported extends Error {}

/** A token from a file, re-read at most every TOKEN_FILE_TTL_MS. */
export function tokenFile(path: string, now: () => number = Date.now): () => string {
  let token = "";
  let readAt = -Infinity;
  return () => {
    if (now() - readAt >= TOKEN_FILE_TTL_MS) {
      token = readFileSync(path, "utf8").trim();
      readAt = now();
    }
    return token;
  };
}

interface Parts {
  server: string;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  insecure?: boolean | undefined;
  servername?: string | undefined;
  authorization?: (() => string) | undefined;
}

function connectionOf(parts: Parts): Connection {
  let server: URL;
  try {
    server = new URL(parts.server);
  } catch {
    throw new Error(`kubeconfig: the cluster's server ${JSON.stringify(parts.server)} is not a URL`);
  }
  return {
    server,
    apply: (opts) => {
      if (parts.ca !== undefined) opts.ca = parts.ca;
      if (parts.cert !== undefined) opts.cert = parts.cert;
      if (parts.key !== undefined) opts.key = parts.key;
      if (parts.insecure === true) opts.rejectUnauthorized = false;
      if (parts.servername !== undefined) opts.servername = parts.servername;
      if (parts.authorization !== undefined) opts.headers = { ...opts.headers, Authorization: parts.authorization() };
      return Promise.resolve();
    },
  };
}

/** The ServiceAccount's own connection inside a pod, as client-go's rest.InClusterConfig makes it. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): Connection {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || host === "" || port === undefined || port === "")
    throw new Error("no kubeconfig given and not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)");
  const token = tokenFile(join(dir, "token"));
  return connectionOf({
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(dir, "ca.crt")),
    authorization: () => `Bearer ${token()}`,
  });
}

/** A kubeconfig file as written: client-node's `newClusters`, `newUsers` and `newContexts` read its lists. */
interface KubeconfigFile {
  "current-context"?: string;
  contexts?: unknown;
  clusters?: unknown;
  users?: { name?: string; user?: { tokenFile?: string } | null }[];
}

/** The connection a kubeconfig's current context describes; Unsupported for what only client-node handles. */
export function kubeconfigConnection(file: KubeconfigFile, baseDir: string): Connection {
  // client-node's own parsing of the three lists (what KubeConfig.loadFromString does). Entries it finds invalid are
  // left out rather than thrown for: only the current context's are used, and their absence is reported below.
  const lenient = { onInvalidEntry: ActionOnInvalid.FILTER };
  const current = file["current-context"];
  const context = newContexts(file.contexts, lenient).find((c) => c.name === current);
  if (context === undefined) throw new Error(`kubeconfig: no context named ${JSON.stringify(current ?? "")}`);
  const cluster = newClusters(file.clusters, lenient).find((c) => c.name === context.cluster);
  if (cluster === undefined)
    throw new Error(`kubeconfig: cluster ${JSON.stringify(context.cluster)} is missing or has no server`);
  const found = newUsers(file.users, lenient).find((u) => u.name === context.user);
  // newUsers leaves null (not undefined) in every field of a user entry without a `user` block.
  const user = Object.fromEntries(Object.entries(found ?? {}).filter(([, v]) => v !== null)) as Partial<User>;
  if (user.exec !== undefined || user.authProvider !== undefined || user.impersonateUser !== undefined)
    throw new Unsupported("exec, auth-provider or impersonation");
  if (cluster.proxyUrl !== undefined) throw new Unsupported("proxy-url");
  // client-node's User has no token file: it reads a `token-file` key once while parsing, while client-go's key is
  // `tokenFile`, relative to the kubeconfig and re-read (tokenFile above).
  const tokenPath = file.users?.find((u) => u.name === context.user)?.user?.tokenFile;
  // Paths are relative to the kubeconfig (KubeConfig.makePathsAbsolute); inline data wins over a file, as in client-go
  // (client-node's bufferFromFileOrString prefers the file).
  const pathOf = (p: string): string => (isAbsolute(p) ? p : join(baseDir, p));
  const material = (data: string | undefined, path: string | undefined): Buffer | undefined =>
    data !== undefined ? Buffer.from(data, "base64") : path !== undefined ? readFileSync(pathOf(path)) : undefined;
  const token =
    user.token !== undefined
      ? () => user.token ?? ""
      : tokenPath !== undefined
        ? tokenFile(pathOf(tokenPath))
        : undefined;
  const basic =
    user.username === undefined
      ? undefined
      : `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  return connectionOf({
    server: cluster.server,
    ca: material(cluster.caData, cluster.caFile),
    cert: material(user.certData, user.certFile),
    key: material(user.keyData, user.keyFile),
    insecure: cluster.skipTLSVerify,
    servername: cluster.tlsServerName,
    authorization: token !== undefined ? () => `Bearer ${token()}` : basic !== undefined ? () => basic : undefined,
  });
}

/** JSON (what tests write) parses without a YAML library; YAML (what kubectl writes) loads one only then. */
async function parseKubeconfig(path: string): Promise<KubeconfigFile> {
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text) as KubeconfigFile;
  } catch {
    const { parse } = await import("yaml");
    return parse(text) as KubeconfigFile;
  }
}

/** @kubernetes/client-node's KubeConfig, for what this file does not handle: imported only then. */
async function clientNodeConnection(path: string | undefined): Promise<Connection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (path === undefined) kc.loadFromDefault();
  else kc.loadFromFile(path);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("kubeconfig has no current cluster");
  return { server: new URL(cluster.server), apply: (opts) => kc.applyToHTTPSOptions(opts) };
}

/**
 * From the kubeconfig at `path` (KUBECONFIG), else ~/.kube/config when it exists, else in-cluster; the same order
 * as client-node's loadFromDefault.
 */
export async function loadConnection(path?: string, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const file =
    path !== undefined && path !== "" ? path : [join(homedir(), ".kube", "config")].find((p) => existsSync(p));
  if (file === undefined) return inClusterConnection(env);
  try {
    return kubeconfigConnection(await parseKubeconfig(file), dirname(file));
  } catch (err) {
    if (err instanceof Unsupported) return clientNodeConnection(file);
    throw err;
  }
}
