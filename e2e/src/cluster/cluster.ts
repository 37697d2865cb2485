// One start/stop interface for the three test-cluster tiers (docs/adr/0010-kubernetes-test-clusters.md):
//   api   etcd + kube-apiserver on loopback, random ports, a kubeconfig, clean state per run;
//   sim   api + kube-controller-manager + kube-scheduler + kwok with N fake nodes across three zones;
//   local sim without kwok, plus real kubelets (one by default, up to three) on containerd, kube-proxy and CoreDNS
//         (see local.ts).
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pki, kubeconfigYaml, type KeyPair } from "./pki.ts";
import {
  freePort,
  isAlive,
  mountsUnder,
  pidsMentioning,
  pollUntil,
  run,
  startProcess,
  type ManagedProcess,
} from "./proc.ts";
import { binDir, k8sToolsDir, requireBinaries, type Tier } from "./tools.ts";

export type { Tier } from "./tools.ts";

/** The part of a pino logger this module uses; pass the caller's logger (or a child of it). */
export interface ClusterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ClusterOptions {
  tier: Tier;
  logger: ClusterLogger;
  /**
   * sim: number of fake nodes, spread round-robin over zones a, b and c. Default 3.
   * local: number of real kubelet nodes, 1 to 3, in zones a, b and c. Default 1.
   */
  nodes?: number;
  /** Where logs are copied when a run fails. Default e2e/artifacts. */
  artifactsDir?: string;
  /** Directory holding the binaries. Default: $TRIBUTARY_K8S_BIN or the `make k8s-tools` cache. */
  binDir?: string;
  /** local: OCI image archives (for example from `make image`) to import into every node's containerd. */
  images?: readonly string[];
  /**
   * local with several nodes: archives imported into the first node only, for pods pinned there (each import costs
   * seconds per node).
   */
  firstNodeImages?: readonly string[];
  /** Default 60 s for api/sim, 180 s for local plus 60 s per node after the first. */
  startTimeoutMs?: number;
}

export interface Cluster {
  readonly tier: Tier;
  /** Absolute path of an admin (system:masters) kubeconfig. */
  readonly kubeconfig: string;
  /** https://<host>:<port> of the API server. */
  readonly server: string;
  /** Per-run scratch directory (PKI, etcd data, logs); removed by stop() unless the run failed. */
  readonly workDir: string;
  /** Milliseconds from startCluster() to ready. */
  readonly startMs: number;
  /** Runs kubectl against this cluster and returns its stdout. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /**
   * Stops every component (reverse start order) and removes the scratch directory. With `failed`, first dumps cluster
   * state and copies all component logs to the artifacts directory, and returns that directory.
   */
  stop(options?: { failed?: boolean }): Promise<string | undefined>;
}

/** Internals shared with the tier-3 starter. */
export interface ControlPlane {
  workDir: string;
  logDir: string;
  pki: Pki;
  bin: (name: string) => string;
  kubeconfig: string;
  server: string;
  admin: KeyPair;
  /** Service-account token key pair (`cert` holds the public key). */
  saKey: KeyPair;
  processes: ManagedProcess[];
  host: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
}

export const SERVICE_CIDR = "10.96.0.0/16";
export const POD_CIDR = "10.244.0.0/16";
export const ZONES = ["a", "b", "c"] as const;

function defaultArtifactsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // e2e/src/cluster or e2e/dist/src/cluster -> e2e/artifacts
  const e2e = here.includes(`${join("dist", "src")}`) ? join(here, "..", "..", "..") : join(here, "..", "..");
  return join(e2e, "artifacts");
}

/** GET https://server/path with the admin client certificate; resolves to the status code and body. */
export function apiGet(cp: Pick<ControlPlane, "server" | "pki" | "admin">, path: string): Promise<[number, string]> {
  const url = new URL(path, cp.server);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(cp.pki.ca.cert),
        cert: readFileSync(cp.admin.cert),
        key: readFileSync(cp.admin.key),
        timeout: 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve([res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")]));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

const WORKDIR_PREFIX = "tributary-k8s-";
const OWNER_FILE = "owner.pid";

/**
 * Removes what runs of this module left behind when their test runner was killed (no exit hook runs on SIGKILL):
 * scratch directories whose owner process is gone, the processes still using them, and their mounts.
 */
export function reapOrphans(logger: ClusterLogger): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(WORKDIR_PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
    } catch {
      continue; // still being created, or not ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    const pids = pidsMentioning(dir);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    for (const m of mountsUnder(dir)) {
      try {
        execFileSync("umount", ["-l", m]);
      } catch {
        // not mounted any more
      }
    }
    rmSync(dir, { recursive: true, force: true });
    logger.warn({ dir, owner, killed: pids }, "cluster: removed the leftovers of a run whose runner died");
  }
}

/** etcd + kube-apiserver. `host` is the address the apiserver binds and advertises (loopback except for tier 3). */
export async function startControlPlane(
  tier: Tier,
  options: {
    logger: ClusterLogger;
    bin: (name: string) => string;
    host: string;
    deadline: number;
    extraSans?: string[];
  },
): Promise<ControlPlane> {
  const { logger, bin, host } = options;
  reapOrphans(logger);
  const workDir = mkdtempSync(join(tmpdir(), `${WORKDIR_PREFIX}${tier}-`));
  writeFileSync(join(workDir, OWNER_FILE), String(process.pid));
  const logDir = join(workDir, "logs");
  const pkiDir = join(workDir, "pki");
  mkdirSync(logDir);
  mkdirSync(pkiDir);
  const processes: ManagedProcess[] = [];
  const remaining = (): number => Math.max(1_000, options.deadline - Date.now());
  try {
    const [etcdPort, etcdPeerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort(host)]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startProcess({
      name: "etcd",
      command: bin("etcd"),
      args: [
        `--data-dir=${join(workDir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      logFile: join(logDir, "etcd.log"),
    });
    processes.push(etcd);

    // PKI while etcd starts.
    const pki = await Pki.create(pkiDir);
    const [serving, admin, kubeletClient, saKey] = await Promise.all([
      pki.issue({
        name: "apiserver",
        commonName: "kube-apiserver",
        server: {
          ips: [...new Set(["127.0.0.1", host, "10.96.0.1"])],
          dns: [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            ...(options.extraSans ?? []),
          ],
        },
      }),
      pki.issue({ name: "admin", commonName: "tributary-admin", organization: "system:masters", client: true }),
      pki.issue({
        name: "apiserver-kubelet-client",
        commonName: "kube-apiserver-kubelet-client",
        // Authorised by kubelet's webhook (SubjectAccessReview) for logs/exec without any RBAC binding.
        organization: "system:masters",
        client: true,
      }),
      pki.serviceAccountKey(),
    ]);

    await pollUntil(
      "etcd /health",
      remaining(),
      async () => {
        const res = await fetch(`${etcdUrl}/health`);
        return res.ok ? true : undefined;
      },
      [etcd],
    );

    const server = `https://${host}:${apiPort}`;
    const apiserver = startProcess({
      name: "kube-apiserver",
      command: bin("kube-apiserver"),
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        `--kubelet-client-certificate=${kubeletClient.cert}`,
        `--kubelet-client-key=${kubeletClient.key}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${saKey.cert}`,
        `--service-account-signing-key-file=${saKey.key}`,
        "--authorization-mode=Node,RBAC",
        // OwnerReferencesPermissionEnforcement (on in OpenShift): setting blockOwnerDeletion needs update on the
        // owner's finalizers subresource, so the operator's RBAC is tested for it.
        "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
        "--allow-privileged=true",
        "--profiling=false",
        "--kubelet-preferred-address-types=InternalIP",
        `--cert-dir=${join(workDir, "apiserver-certs")}`,
      ],
      logFile: join(logDir, "kube-apiserver.log"),
    });
    processes.push(apiserver);

    const cp: ControlPlane = {
      workDir,
      logDir,
      pki,
      bin,
      server,
      admin,
      saKey,
      processes,
      host,
      kubeconfig: join(workDir, "kubeconfig"),
      kubectl: async (args, input) => {
        const options = input === undefined ? {} : { input };
        return (await run(bin("kubectl"), [`--kubeconfig=${cp.kubeconfig}`, ...args], options)).stdout;
      },
    };
    writeFileSync(cp.kubeconfig, kubeconfigYaml(server, pki.ca.cert, admin));

    await pollUntil(
      "kube-apiserver /readyz",
      remaining(),
      async () => {
        const [status] = await apiGet(cp, "/readyz");
        return status === 200 ? true : undefined;
      },
      processes,
    );
    // The bootstrap controller creates the default namespace just after /readyz turns green.
    await pollUntil(
      "namespace default",
      remaining(),
      async () => {
        const [status] = await apiGet(cp, "/api/v1/namespaces/default");
        return status === 200 ? true : undefined;
      },
      processes,
    );
    logger.info({ tier, server, workDir }, "cluster: control plane ready");
    return cp;
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop(5_000)));
    const saved = saveArtifacts(workDir, defaultArtifactsDir(), tier);
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`cluster tier '${tier}' failed to start (logs in ${saved})`, { cause: error });
  }
}

/** kube-controller-manager + kube-scheduler with admin credentials (a test cluster; no per-component identities). */
export function startControllers(cp: ControlPlane, extraControllerArgs: readonly string[] = []): void {
  // Both serve no port (--secure-port=0), so parallel clusters never collide, and need no leader election.
  const common = [
    `--kubeconfig=${cp.kubeconfig}`,
    `--authentication-kubeconfig=${cp.kubeconfig}`,
    `--authorization-kubeconfig=${cp.kubeconfig}`,
    "--secure-port=0",
    "--leader-elect=false",
  ];
  const controllerArgs = [
    "--controllers=*",
    `--service-account-private-key-file=${cp.saKey.key}`,
    `--root-ca-file=${cp.pki.ca.cert}`,
    `--cluster-signing-cert-file=${cp.pki.ca.cert}`,
    `--cluster-signing-key-file=${cp.pki.ca.key}`,
    "--use-service-account-credentials=true",
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ...extraControllerArgs,
  ];
  for (const [name, args] of [
    ["kube-controller-manager", [...common, ...controllerArgs]],
    ["kube-scheduler", common],
  ] as const) {
    cp.processes.push(startProcess({ name, command: cp.bin(name), args, logFile: join(cp.logDir, `${name}.log`) }));
  }
}

/** Waits until the service-account controller has made the `default` ServiceAccount (pods need it). */
export async function waitForDefaultServiceAccount(cp: ControlPlane, timeoutMs: number): Promise<void> {
  await pollUntil(
    "serviceaccount default/default",
    timeoutMs,
    async () => {
      const [status] = await apiGet(cp, "/api/v1/namespaces/default/serviceaccounts/default");
      return status === 200 ? true : undefined;
    },
    cp.processes,
  );
}

/** Fake kwok nodes `kwok-0..n-1`, zone labels a/b/c round-robin, 16 CPU / 64 GiB / 110 pods each. */
export function fakeNodesYaml(count: number): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const zone = ZONES[i % ZONES.length] ?? "a";
    docs.push(
      [
        "apiVersion: v1",
        "kind: Node",
        "metadata:",
        `  name: kwok-${i}`,
        "  annotations:",
        "    kwok.x-k8s.io/node: fake",
        "    node.alpha.kubernetes.io/ttl: '0'",
        "  labels:",
        "    type: kwok",
        `    kubernetes.io/hostname: kwok-${i}`,
        "    kubernetes.io/os: linux",
        "    kubernetes.io/arch: amd64",
        "    topology.kubernetes.io/region: tributary",
        `    topology.kubernetes.io/zone: ${zone}`,
        "status:",
        "  allocatable: { cpu: '16', memory: 64Gi, pods: '110' }",
        "  capacity: { cpu: '16', memory: 64Gi, pods: '110' }",
      ].join("\n"),
    );
  }
  return docs.join("\n---\n") + "\n";
}

async function startSim(cp: ControlPlane, nodes: number, deadline: number): Promise<void> {
  startControllers(cp);
  const kwokPort = await freePort();
  cp.processes.push(
    startProcess({
      name: "kwok",
      command: cp.bin("kwok"),
      args: [
        `--kubeconfig=${cp.kubeconfig}`,
        `--config=${join(k8sToolsDir(), "kwok", "stages.yaml")}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--manage-nodes-with-label-selector=",
        "--manage-single-node=",
        "--cidr=10.0.0.0/16",
        "--node-ip=10.0.0.1",
        "--node-lease-duration-seconds=40",
        `--server-address=127.0.0.1:${kwokPort}`,
      ],
      logFile: join(cp.logDir, "kwok.log"),
    }),
  );
  await cp.kubectl(["apply", "-f", "-"], fakeNodesYaml(nodes));
  await pollUntil(
    `${nodes} kwok nodes Ready`,
    Math.max(1_000, deadline - Date.now()),
    async () => {
      const out = await cp.kubectl([
        "get",
        "nodes",
        "-l",
        "type=kwok",
        "-o",
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      const ready = out.split("\n").filter((s) => s === "True").length;
      return ready === nodes ? true : undefined;
    },
    cp.processes,
    250,
  );
  await waitForDefaultServiceAccount(cp, Math.max(1_000, deadline - Date.now()));
}

/** Copies the run's logs (and kubeconfig/PKI for post-mortem) to <artifactsDir>/<tier>-<timestamp>. */
function saveArtifacts(workDir: string, artifactsDir: string, tier: Tier): string {
  const target = join(artifactsDir, `${tier}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(target, { recursive: true });
  cpSync(join(workDir, "logs"), join(target, "logs"), { recursive: true, force: true });
  for (const file of ["kubeconfig"]) {
    try {
      cpSync(join(workDir, file), join(target, file));
    } catch {
      // not written yet
    }
  }
  return target;
}

/** What a failed run records about the cluster, next to the component logs. */
async function dumpState(kubectl: (args: readonly string[]) => Promise<string>, dir: string): Promise<void> {
  const queries: Record<string, string[]> = {
    "get-all.txt": ["get", "all,nodes,events,pvc,endpointslices", "-A", "-o", "wide"],
    "describe-pods.txt": ["describe", "pods", "-A"],
  };
  for (const [file, args] of Object.entries(queries)) {
    writeFileSync(join(dir, file), await kubectl(args).catch((error: unknown) => String(error)));
  }
}

export function toCluster(
  tier: Tier,
  cp: ControlPlane,
  startMs: number,
  artifactsDir: string,
  beforeStop: () => Promise<void> = () => Promise.resolve(),
): Cluster {
  let stopped: Promise<string | undefined> | undefined;
  return {
    tier,
    kubeconfig: cp.kubeconfig,
    server: cp.server,
    workDir: cp.workDir,
    startMs,
    kubectl: (args, input) => cp.kubectl(args, input),
    stop(options = {}) {
      stopped ??= (async () => {
        if (options.failed === true) await dumpState((args) => cp.kubectl(args), cp.logDir);
        await beforeStop();
        for (const p of [...cp.processes].reverse()) await p.stop();
        const saved = options.failed === true ? saveArtifacts(cp.workDir, artifactsDir, tier) : undefined;
        rmSync(cp.workDir, { recursive: true, force: true });
        return saved;
      })();
      return stopped;
    },
  };
}

/**
 * A cluster someone else started (kind, or any cluster in a kubeconfig): the same Cluster interface, so suites run the
 * same code after the cluster exists. stop() removes nothing; with `failed` it saves `kubectl` state to the artifacts.
 */
export function attachCluster(options: {
  kubeconfig: string;
  tier?: Tier;
  binDir?: string;
  artifactsDir?: string;
}): Cluster {
  const kubectlBin = join(options.binDir ?? binDir(), "kubectl");
  const kubectl = async (args: readonly string[], input?: string): Promise<string> =>
    (await run(kubectlBin, [`--kubeconfig=${options.kubeconfig}`, ...args], input === undefined ? {} : { input }))
      .stdout;
  const tier = options.tier ?? "local";
  return {
    tier,
    kubeconfig: options.kubeconfig,
    server: "",
    workDir: "",
    startMs: 0,
    kubectl,
    async stop(stopOptions = {}) {
      if (stopOptions.failed !== true) return undefined;
      const target = join(options.artifactsDir ?? defaultArtifactsDir(), `attached-${tier}-${Date.now()}`);
      mkdirSync(target, { recursive: true });
      await dumpState(kubectl, target);
      return target;
    },
  };
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const started = Date.now();
  const tier = options.tier;
  // Tier local imports every image into each node's containerd: a minute more per extra node.
  const localTimeout = 180_000 + 60_000 * ((options.nodes ?? 1) - 1);
  const timeout = options.startTimeoutMs ?? (tier === "local" ? localTimeout : 60_000);
  const deadline = started + timeout;
  const artifactsDir = options.artifactsDir ?? defaultArtifactsDir();
  if (tier === "local") {
    const { startLocal } = await import("./local.ts");
    return startLocal({ ...options, artifactsDir, deadline, started });
  }
  const bin = requireBinaries(tier, options.binDir ?? binDir());
  const cp = await startControlPlane(tier, { logger: options.logger, bin, host: "127.0.0.1", deadline });
  if (tier === "sim") {
    try {
      await startSim(cp, options.nodes ?? 3, deadline);
    } catch (error) {
      const saved = await toCluster(tier, cp, 0, artifactsDir).stop({ failed: true });
      throw new Error(`cluster tier 'sim' failed to start (logs in ${saved})`, { cause: error });
    }
  }
  const startMs = Date.now() - started;
  options.logger.info({ tier, startMs, kubeconfig: cp.kubeconfig }, "cluster: ready");
  return toCluster(tier, cp, startMs, artifactsDir);
}
