// How the client reaches and authenticates to the API server, without @kubernetes/client-node for the common cases:
// that library's generated API models cost the operator ~66 MiB of RSS at import (docs/operator.md, "Operator
// memory") while it only ever used KubeConfig. Handled here: in-cluster (the ServiceAccount's token, re-read as the
// kubelet rotates it, and CA), and kubeconfig files whose current context uses a bearer token, a token file, client
// certificates or basic auth. A kubeconfig this does not handle (exec credential plugins, auth providers,
// impersonation, proxies) is handed to @kubernetes/client-node, imported only then.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { RequestOptions } from "node:https";

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

interface NamedCluster {
  name: string;
  cluster: {
    server?: string;
    "certificate-authority"?: string;
    "certificate-authority-data"?: string;
    "insecure-skip-tls-verify"?: boolean;
    "tls-server-name"?: string;
    "proxy-url"?: string;
  };
}
interface NamedUser {
  name: string;
  user?: {
    token?: string;
    tokenFile?: string;
    "client-certificate"?: string;
    "client-certificate-data"?: string;
    "client-key"?: string;
    "client-key-data"?: string;
    username?: string;
    password?: string;
    exec?: unknown;
    "auth-provider"?: unknown;
    as?: string;
  };
}
interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name: string; context: { cluster: string; user?: string } }[];
  clusters?: NamedCluster[];
  users?: NamedUser[];
}

/** The connection a kubeconfig's current context describes; Unsupported for what only client-node handles. */
export function kubeconfigConnection(file: KubeconfigFile, baseDir: string): Connection {
  const current = file["current-context"];
  const context = file.contexts?.find((c) => c.name === current)?.context;
  if (context === undefined) throw new Error(`kubeconfig: no context named ${JSON.stringify(current ?? "")}`);
  const cluster = file.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (cluster?.server === undefined)
    throw new Error(`kubeconfig: cluster ${JSON.stringify(context.cluster)} is missing or has no server`);
  const user = file.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec !== undefined || user["auth-provider"] !== undefined || user.as !== undefined)
    throw new Unsupported("exec, auth-provider or impersonation");
  if (cluster["proxy-url"] !== undefined) throw new Unsupported("proxy-url");
  const pathOf = (p: string): string => (isAbsolute(p) ? p : join(baseDir, p));
  const material = (data: string | undefined, path: string | undefined): Buffer | undefined =>
    data !== undefined ? Buffer.from(data, "base64") : path !== undefined ? readFileSync(pathOf(path)) : undefined;
  const token =
    user.token !== undefined
      ? () => user.token ?? ""
      : user.tokenFile !== undefined
        ? tokenFile(pathOf(user.tokenFile))
        : undefined;
  const basic =
    user.username === undefined
      ? undefined
      : `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  return connectionOf({
    server: cluster.server,
    ca: material(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: material(user["client-certificate-data"], user["client-certificate"]),
    key: material(user["client-key-data"], user["client-key"]),
    insecure: cluster["insecure-skip-tls-verify"],
    servername: cluster["tls-server-name"],
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
