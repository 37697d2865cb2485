// Integration-test support: the real test cluster from e2e/src/cluster, the compiled operator as a child process, and
// small kubectl helpers. The cluster module lives in another workspace (outside this project's rootDir), so it is
// loaded by URL at run time and typed here by the few members the tests use.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** Where manifests/install.yaml puts the operator: its ServiceAccount, and the Role for its Lease. */
export const OPERATOR_NAMESPACE = "tributary-system";
const OPERATOR_SA = "tributary-operator";
const execFileP = promisify(execFile);

export interface Cluster {
  readonly kubeconfig: string;
  readonly startMs: number;
  readonly workDir: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  stop(options?: { failed?: boolean }): Promise<string | undefined>;
}

interface ClusterModule {
  startCluster(options: {
    tier: "api" | "sim";
    logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
  }): Promise<Cluster>;
  missingBinaries(tier: "api" | "sim"): string[];
}

export async function clusterModule(): Promise<ClusterModule> {
  const url = pathToFileURL(join(REPO, "e2e", "src", "cluster", "index.ts")).href;
  return (await import(url)) as ClusterModule;
}

/** The real broker executable on a free loopback port (broker/test/support), for tests that need Kafka itself. */
export interface BrokerProcess {
  readonly port: number;
  readonly bootstrap: string;
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<number | null>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startBroker(): Promise<BrokerProcess> {
  const url = pathToFileURL(join(REPO, "broker", "test", "support", "broker-process.ts")).href;
  const mod = (await import(url)) as { startBrokerProcess: () => Promise<BrokerProcess> };
  return mod.startBrokerProcess();
}

export const quietLogger = {
  info: (obj: object, msg: string) => console.log(msg, JSON.stringify(obj)),
  warn: (obj: object, msg: string) => console.warn(msg, JSON.stringify(obj)),
};

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` naming `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** A status condition as the operator writes it. */
export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

const conditionList = (o: Obj | undefined): Condition[] => (o?.status?.["conditions"] ?? []) as Condition[];

/** The object's status condition of `type`, if it has one. */
export function condition(o: Obj | undefined, type: string): Condition | undefined {
  return conditionList(o).find((c) => c.type === type);
}

/** The object's status conditions by type. */
export function conditions(o: Obj | undefined): Record<string, Condition> {
  return Object.fromEntries(conditionList(o).map((c) => [c.type, c]));
}

export async function getJson(cluster: Cluster, args: readonly string[]): Promise<Obj | undefined> {
  try {
    return JSON.parse(await cluster.kubectl(["get", ...args, "-o", "json"])) as Obj;
  } catch (err) {
    if (String(err).includes("NotFound")) return undefined;
    throw err;
  }
}

export async function listJson(cluster: Cluster, args: readonly string[]): Promise<Obj[]> {
  return (JSON.parse(await cluster.kubectl(["get", ...args, "-o", "json"])) as { items: Obj[] }).items;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0));
    });
  });
}

/**
 * Compiles the operator (incremental: a no-op when `make test` has just built it). Suites run in parallel workers, and
 * two concurrent `tsc -b` runs over one output directory fail, so the build holds a file lock.
 */
export async function buildOperator(): Promise<string> {
  const tsc = join(REPO, "node_modules", ".bin", "tsc");
  await execFileP("flock", [join(tmpdir(), "tributary-operator-build.lock"), tsc, "-b", join(REPO, "operator")], {
    cwd: REPO,
  });
  const main = join(REPO, "operator", "dist", "src", "main.js");
  if (!existsSync(main)) throw new Error(`${main} missing after tsc -b`);
  return main;
}

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly healthPort: number;
  readonly logFile: string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  get(path: string): Promise<[number, string]>;
  /** Resident set size from /proc, in MiB. */
  rssMiB(): number;
  /** SIGTERM, then resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startOperator(
  main: string,
  options: { kubeconfig: string; identity: string; logFile: string; env?: Record<string, string> },
): Promise<OperatorProcess> {
  const healthPort = await freePort();
  const out = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env["PATH"] ?? "",
      KUBECONFIG: options.kubeconfig,
      POD_NAME: options.identity,
      TRIBUTARY_LEADER_ELECTION_NAMESPACE: OPERATOR_NAMESPACE,
      TRIBUTARY_HTTP_HOST: "127.0.0.1",
      TRIBUTARY_HTTP_PORT: String(healthPort),
      TRIBUTARY_LOG_LEVEL: "debug",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const proc: OperatorProcess = {
    child,
    healthPort,
    logFile: options.logFile,
    logs: () =>
      readFileSync(options.logFile, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    get: async (path) => {
      const res = await fetch(`http://127.0.0.1:${healthPort}${path}`);
      return [res.status, await res.text()];
    },
    rssMiB: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return m === null ? NaN : Number(m[1]) / 1024;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
  return proc;
}

/** A sample counter or gauge value from Prometheus text, summed over series matching all `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? NaN;
}

/**
 * Installs the chart's ServiceAccount and RBAC from manifests/install.yaml (not its Deployment: the tests run the
 * operator themselves, and tier api could not run a pod) and returns a kubeconfig that authenticates as that
 * ServiceAccount, so that every test also proves the RBAC grants enough.
 */
async function operatorKubeconfig(cluster: Cluster, dir: string): Promise<string> {
  const items = parseAllDocuments(readFileSync(join(REPO, "manifests", "install.yaml"), "utf8"))
    .map((d) => d.toJS() as { kind?: string } | null)
    .filter((o) => o !== null && o.kind !== "Deployment" && o.kind !== "CustomResourceDefinition");
  await cluster.kubectl(
    ["apply", "--server-side", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  );
  const token = (
    await cluster.kubectl(["create", "token", OPERATOR_SA, "-n", OPERATOR_NAMESPACE, "--duration=2h"])
  ).trim();
  const admin = JSON.parse(
    await cluster.kubectl(["config", "view", "--raw", "--minify", "--flatten", "-o", "json"]),
  ) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const server = admin.clusters[0];
  if (server === undefined) throw new Error("the admin kubeconfig names no cluster");
  const path = join(dir, "operator.kubeconfig");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [server],
      users: [{ name: OPERATOR_SA, user: { token } }],
      contexts: [{ name: OPERATOR_SA, context: { cluster: server.name, user: OPERATOR_SA } }],
      "current-context": OPERATOR_SA,
    }),
  );
  return path;
}

export interface OperatorSuite {
  cluster: () => Cluster;
  /** A kubeconfig of the operator's ServiceAccount (the chart's RBAC); the cluster's own is an admin's. */
  kubeconfig: () => string;
  operator: () => OperatorProcess;
  /** Replaces the running operator (the restart test). */
  setOperator: (next: OperatorProcess) => void;
  /** The compiled operator entry point. */
  main: () => string;
  /** Where operator logs go (kept when a test fails). */
  scratch: string;
}

/**
 * Registers a suite's hooks: start the cluster tier and compile the operator in parallel, install the CRDs from crds/,
 * create `namespace`, start the operator as `identity`; afterwards stop both, keeping logs when a test failed.
 */
export function useOperatorSuite(
  hooks: {
    beforeAll: (fn: () => Promise<void>) => void;
    afterAll: (fn: () => Promise<void>) => void;
    afterEach: (fn: (ctx: { task: { result?: { state?: string } } }) => void) => void;
  },
  options: {
    tier: "api" | "sim";
    namespace: string;
    identity: string;
    /** Runs before the operator starts (for example a broker); answers extra environment for the operator. */
    prepare?: () => Promise<Record<string, string>>;
  },
): OperatorSuite {
  let cluster: Cluster | undefined;
  let operator: OperatorProcess | undefined;
  let main = "";
  let kubeconfig = "";
  let failed = false;
  const scratch = mkdtempSync(join(tmpdir(), `tributary-operator-${options.tier}-`));
  hooks.beforeAll(async () => {
    const mod = await clusterModule();
    const missing = mod.missingBinaries(options.tier);
    if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: run make k8s-tools-${options.tier}`);
    [cluster, main] = await Promise.all([
      mod.startCluster({ tier: options.tier, logger: quietLogger }),
      buildOperator(),
    ]);
    if (!existsSync(join(REPO, "crds", "kafkaclusters.tributary.dev.yaml")))
      throw new Error("crds/ is missing: make crds");
    await cluster.kubectl(["apply", "--server-side", "-f", join(REPO, "crds")]);
    await cluster.kubectl([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      ...["kafkaclusters", "kafkatopics", "kafkausers"].map((plural) => `crd/${plural}.tributary.dev`),
    ]);
    await cluster.kubectl(["create", "namespace", options.namespace]);
    kubeconfig = await operatorKubeconfig(cluster, scratch);
    const env = (await options.prepare?.()) ?? {};
    operator = await startOperator(main, {
      kubeconfig,
      identity: options.identity,
      logFile: join(scratch, `${options.identity}.log`),
      env,
    });
  });
  hooks.afterEach(({ task }) => {
    if (task.result?.state === "fail") failed = true;
  });
  hooks.afterAll(async () => {
    await operator?.stop();
    if (failed) console.warn(`operator logs in ${scratch}`);
    const saved = await cluster?.stop({ failed });
    if (saved !== undefined) console.warn(`cluster logs saved to ${saved}`);
  });
  return {
    cluster: () => {
      if (cluster === undefined) throw new Error("the cluster did not start");
      return cluster;
    },
    operator: () => {
      if (operator === undefined) throw new Error("the operator is not running");
      return operator;
    },
    setOperator: (next) => {
      operator = next;
    },
    kubeconfig: () => kubeconfig,
    main: () => main,
    scratch,
  };
}

/** Events about object `name` in `namespace`, optionally only those with `reason`. */
export async function eventsAbout(
  cluster: Cluster,
  namespace: string,
  name: string,
  reason?: string,
): Promise<(Obj & { type: string; reason: string; message: string })[]> {
  const selector = `involvedObject.name=${name}${reason === undefined ? "" : `,reason=${reason}`}`;
  return (await listJson(cluster, ["events", "-n", namespace, "--field-selector", selector])) as (Obj & {
    type: string;
    reason: string;
    message: string;
  })[];
}
