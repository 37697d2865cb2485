// Tier 3 ("local"): a cluster whose pods really run, on one kubelet node by default or up to three. Every component is
// a host process owned by this module: per node a private containerd (Debian's containerd/runc, CNI plugins from
// /usr/lib/cni, ptp + host-local network) and a kubelet (cgroupfs driver, cgroup v1 tolerated); once per cluster
// kube-proxy (iptables mode) and CoreDNS serving the cluster domain behind the usual kube-dns Service IP. Needs root;
// one local cluster per machine at a time (a lock file enforces it).
//
// Several nodes on one host (docs/testing.md): each has its own containerd (a kubelet kills running pods its runtime
// reports but the API server has not bound to it, so two kubelets on one containerd namespace would kill each other's
// sandboxes), its own cgroup root (a kubelet destroys pod cgroups under its kubepods it does not know, killing their
// processes), its own root dir, pod log dir (container GC deletes pod log directories of pods it does not know), port,
// client and serving certificates, pod subnet 10.244.<i>.0/24 and zone label (a, b, c). The ptp plugin routes each
// pod's /32 in the host's network namespace, which all nodes share, so pods on different nodes reach each other with
// no bridge or extra route, and the one kube-proxy's iptables rules serve Service IPs for every node's pods.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import {
  POD_CIDR,
  SERVICE_CIDR,
  ZONES,
  apiGet,
  startControlPlane,
  startControllers,
  toCluster,
  waitForDefaultServiceAccount,
  type Cluster,
  type ClusterOptions,
  type ControlPlane,
} from "./cluster.ts";
import { kubeconfigYaml } from "./pki.ts";
import {
  freePort,
  logTail,
  mountsUnder,
  pidsMentioning,
  pollUntil,
  run,
  startProcess,
  type ManagedProcess,
} from "./proc.ts";
import { binDir, k8sToolsDir, requireBinaries, tributaryCache, versions } from "./tools.ts";

export const NODE_NAME = "tributary-local";
/** "" for node 0 (the single-node names and paths), "-<i>" for node i: node names, directories, processes, logs. */
const nodeSuffix = (index: number): string => (index === 0 ? "" : `-${index}`);
/** Node names of a tier-local cluster with `count` nodes: NODE_NAME, then NODE_NAME-1, NODE_NAME-2. */
export function localNodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${NODE_NAME}${nodeSuffix(i)}`);
}
export const CLUSTER_DNS_IP = "10.96.0.10";
const LOCK_FILE = "/run/tributary-k8s-local.lock";

export interface LocalOptions extends ClusterOptions {
  artifactsDir: string;
  deadline: number;
  started: number;
}

/** The most kubelet nodes tier local starts (one per zone). */
export const MAX_LOCAL_NODES = ZONES.length;

/** One kubelet node of tier local: node 0 keeps the single-node names and paths, and the host's root cgroup. */
interface LocalNode {
  index: number;
  name: string;
  zone: string;
  podSubnet: string;
  /** Suffix of this node's directories and process names: "" for node 0, "-<i>" otherwise. */
  suffix: string;
  ctrDir: string;
  sock: string;
  /** The cgroup (cgroupfs path) above this node's kubepods; undefined: the root, kubelet's default. */
  cgroupRoot: string | undefined;
}

function localNode(workDir: string, index: number): LocalNode {
  const suffix = nodeSuffix(index);
  const ctrDir = join(workDir, `containerd${suffix}`);
  return {
    index,
    name: `${NODE_NAME}${suffix}`,
    zone: ZONES[index % ZONES.length] ?? "a",
    podSubnet: `10.244.${index}.0/24`,
    suffix,
    ctrDir,
    sock: join(ctrDir, "state", "containerd.sock"),
    cgroupRoot: index === 0 ? undefined : `/tributary-node${suffix}`,
  };
}

const HOST_COMMANDS = ["/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc", "/usr/lib/cni/ptp"];

/** Why tier 3 cannot run on this host, or undefined when it can. */
export function localTierUnavailable(): string | undefined {
  if (process.platform !== "linux") return "tier 'local' needs Linux";
  if (process.getuid?.() !== 0) return "tier 'local' needs root (kubelet, containerd, iptables)";
  const missing = HOST_COMMANDS.filter((c) => !existsSync(c));
  const iptables = ["/usr/sbin/iptables", "/sbin/iptables"].some((p) => existsSync(p));
  if (!iptables) missing.push("iptables");
  if (missing.length > 0) {
    return `tier 'local' needs ${missing.join(", ")}: run 'e2e/local/host-setup.sh' (make e2e does)`;
  }
  return undefined;
}

/** The first non-internal IPv4 address: pods reach the API server and CoreDNS there. */
export function hostIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new Error("tier 'local': no non-loopback IPv4 address on this host");
}

/**
 * "pid starttime": the start time (clock ticks after boot, /proc/<pid>/stat field 22) tells a live owner from an
 * unrelated process that reused the pid of an owner that died without releasing the lock (a killed run, a restarted
 * machine whose /run survived).
 */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses; the fields after its last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return `${pid} ${fields[19] ?? ""}`;
  } catch {
    return undefined;
  }
}

function acquireLock(): void {
  const self = processIdentity(process.pid) ?? String(process.pid);
  try {
    writeFileSync(LOCK_FILE, self, { flag: "wx" });
    return;
  } catch {
    const owner = readFileSync(LOCK_FILE, "utf8").trim();
    const ownerPid = Number(owner.split(" ")[0]);
    const alive = Number.isInteger(ownerPid) && owner !== self && processIdentity(ownerPid) === owner;
    if (alive) throw new Error(`tier 'local': another local cluster is running (pid ${ownerPid}, ${LOCK_FILE})`);
    writeFileSync(LOCK_FILE, self);
  }
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK_FILE, "utf8") === (processIdentity(process.pid) ?? String(process.pid))) rmSync(LOCK_FILE);
  } catch {
    // already gone
  }
}

function pauseImage(): string {
  return `registry.k8s.io/pause:${versions()["PAUSE_VERSION"] ?? "3.10.1"}`;
}

/** The pause image as an OCI archive built from the pause binary, cached next to the binaries. */
async function pauseImageArchive(bin: (name: string) => string): Promise<string> {
  const cacheDir = process.env["TRIBUTARY_IMAGE_CACHE"] ?? join(tributaryCache(), "images");
  const archive = join(cacheDir, `pause-${versions()["PAUSE_VERSION"] ?? "3.10.1"}.oci.tar`);
  if (existsSync(archive)) return archive;
  mkdirSync(cacheDir, { recursive: true });
  const root = join(cacheDir, "pause-rootfs");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "pause"), readFileSync(bin("pause")), { mode: 0o755 });
  await run(join(k8sToolsDir(), "..", "image", "oci-image.sh"), [
    "--name",
    pauseImage(),
    "--out",
    archive,
    "--layer",
    root,
    "--entrypoint",
    '["/pause"]',
    "--user",
    "65535:65535",
  ]);
  rmSync(root, { recursive: true, force: true });
  return archive;
}

function containerdConfig(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/state/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage()}"
  netns_mounts_under_state_dir = true
  # Clamp pods' oom_score_adj to containerd's own: hosts without CAP_SYS_RESOURCE (sandboxed VMs) refuse the negative
  # values kubelet asks for (-998 for the pause container), and runc then fails to create the sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
`;
}

function cniConfig(ipamDir: string, podSubnet: string): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: "tributary",
      plugins: [
        {
          type: "ptp",
          ipMasq: false,
          mtu: 1500,
          ipam: {
            type: "host-local",
            dataDir: ipamDir,
            ranges: [[{ subnet: podSubnet }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(
  cp: ControlPlane,
  node: LocalNode,
  kubeletDir: string,
  port: number,
  serving: { cert: string; key: string },
): string {
  // Node 0 keeps kubelet's defaults for the cgroup root and pod logs; other nodes must not share them (header).
  const own =
    node.cgroupRoot === undefined
      ? ""
      : `cgroupRoot: ${node.cgroupRoot}\npodLogsDir: ${join(kubeletDir, "pod-logs")}\n`;
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${node.sock}
address: ${cp.host}
port: ${port}
readOnlyPort: 0
healthzPort: 0
tlsCertFile: ${serving.cert}
tlsPrivateKeyFile: ${serving.key}
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${cp.pki.ca.cert} }
authorization:
  mode: Webhook
clusterDNS: [${CLUSTER_DNS_IP}]
clusterDomain: cluster.local
rotateCertificates: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%" }
protectKernelDefaults: false
resolvConf: /etc/resolv.conf
staticPodPath: ""
${own}`;
}

function kubeProxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: ${kubeconfig} }
hostnameOverride: ${NODE_NAME}
clusterCIDR: ${POD_CIDR}
healthzBindAddress: 127.0.0.1:${healthzPort}
metricsBindAddress: 127.0.0.1:${metricsPort}
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
`;
}

function corefile(kubeconfig: string, host: string, port: number): string {
  return `.:${port} {
    bind ${host}
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig} tributary
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`;
}

/** Service kube-dns (10.96.0.10:53) without a selector, pointing at CoreDNS on the host. */
function kubeDnsYaml(host: string, port: number): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        spec: {
          clusterIP: CLUSTER_DNS_IP,
          ports: [
            { name: "dns", protocol: "UDP", port: 53, targetPort: port },
            { name: "dns-tcp", protocol: "TCP", port: 53, targetPort: port },
          ],
        },
      },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "kube-dns-host",
          namespace: "kube-system",
          labels: {
            "kubernetes.io/service-name": "kube-dns",
            "endpointslice.kubernetes.io/managed-by": "tributary-e2e",
          },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [host], conditions: { ready: true } }],
        ports: [
          { name: "dns", protocol: "UDP", port },
          { name: "dns-tcp", protocol: "TCP", port },
        ],
      },
    ],
  });
}

/** Removes the iptables chains kubelet makes on start (KUBE-FIREWALL and its canaries), which it never removes. */
function removeKubeletChains(): void {
  const quiet = (cmd: string, args: string[]): void => {
    try {
      execFileSync(cmd, args, { stdio: "ignore" });
    } catch {
      // absent
    }
  };
  for (const cmd of ["iptables", "ip6tables"]) {
    quiet(cmd, ["-t", "filter", "-D", "INPUT", "-j", "KUBE-FIREWALL"]);
    quiet(cmd, ["-t", "filter", "-D", "OUTPUT", "-j", "KUBE-FIREWALL"]);
    for (const table of ["filter", "nat", "mangle"]) {
      for (const chain of ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"]) {
        quiet(cmd, ["-t", table, "-F", chain]);
        quiet(cmd, ["-t", table, "-X", chain]);
      }
    }
  }
}

const CGROUP_MOUNT = "/sys/fs/cgroup";

/** The hierarchies mounted under /sys/fs/cgroup (cgroup v1 controllers, and the unified one beside them). */
function cgroupHierarchies(): string[] {
  try {
    return readdirSync(CGROUP_MOUNT).map((c) => join(CGROUP_MOUNT, c));
  } catch {
    return [];
  }
}

/**
 * Makes a node's cgroup root in every hierarchy: kubelet refuses a cgroupRoot that does not exist. A new cpuset cgroup
 * starts with no CPUs and no memory nodes, which no process may join, so it gets its parent's.
 */
function createCgroupRoot(cgroupRoot: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const dir = join(hierarchy, cgroupRoot);
    mkdirSync(dir, { recursive: true });
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(hierarchy, file))) writeFileSync(join(dir, file), readFileSync(join(hierarchy, file)));
    }
  }
}

/**
 * Removes the kubepods cgroups kubelets made (depth first) under the root and under each extra node's cgroup root,
 * then those roots; kubelet leaves them behind on exit.
 */
function removeKubepodsCgroups(nodeRoots: readonly string[]): void {
  const remove = (dir: string): void => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) remove(join(dir, e));
    try {
      rmdirSync(dir);
    } catch {
      // busy or not ours
    }
  };
  for (const hierarchy of cgroupHierarchies()) {
    remove(join(hierarchy, "kubepods"));
    remove(join(hierarchy, "kubepods.slice"));
    for (const root of nodeRoots) remove(join(hierarchy, root));
  }
}

export async function startLocal(options: LocalOptions): Promise<Cluster> {
  const unavailable = localTierUnavailable();
  if (unavailable !== undefined) throw new Error(unavailable);
  const nodeCount = options.nodes ?? 1;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_LOCAL_NODES) {
    throw new Error(`tier 'local': nodes must be 1 to ${MAX_LOCAL_NODES}, got ${nodeCount}`);
  }
  const bin = requireBinaries("local", options.binDir ?? binDir());
  const { logger, deadline } = options;
  const remaining = (): number => Math.max(1_000, deadline - Date.now());
  acquireLock();
  const host = hostIp();
  let cp: ControlPlane;
  try {
    cp = await startControlPlane("local", { logger, bin, host, deadline });
  } catch (error) {
    releaseLock();
    throw error;
  }
  const nodes = Array.from({ length: nodeCount }, (_, i) => localNode(cp.workDir, i));
  const ctr = (node: LocalNode, args: readonly string[], timeoutMs = 120_000): Promise<{ stdout: string }> =>
    run("ctr", ["-a", node.sock, "-n", "k8s.io", ...args], { timeoutMs });
  const tasks = async (node: LocalNode): Promise<string[]> =>
    (await ctr(node, ["tasks", "ls", "-q"])).stdout.split("\n").filter((t) => t !== "");
  const nodeProcess = (name: string): ManagedProcess | undefined => cp.processes.find((p) => p.name === name);
  const cgroupRoots = nodes.flatMap((n) => (n.cgroupRoot === undefined ? [] : [n.cgroupRoot]));

  const teardown = async (): Promise<void> => {
    const started = Date.now();
    const phases: Record<string, number> = {};
    const phase = (name: string, since: number): number => {
      const now = Date.now();
      phases[name] = now - since;
      return now;
    };
    let mark = started;
    // Controllers first, so that nothing recreates the pods we are about to remove.
    for (const p of cp.processes.filter((p) => ["kube-controller-manager", "kube-scheduler"].includes(p.name))) {
      await p.stop();
    }
    const kubelets = nodes.map((n) => nodeProcess(`kubelet${n.suffix}`));
    if (kubelets.some((k) => k?.exitStatus() === null)) {
      try {
        await cp.kubectl(["delete", "pods", "--all", "-A", "--grace-period=0", "--force", "--wait=false"]);
        await pollUntil("pods to stop", 30_000, async () => {
          for (const node of nodes) if ((await tasks(node)).length > 0) return undefined;
          return true;
        });
      } catch (error) {
        logger.warn({ error: String(error) }, "cluster local: pods did not stop cleanly; killing tasks");
      }
    }
    mark = phase("podsMs", mark);
    for (const k of kubelets) await k?.stop();
    for (const name of ["kube-proxy", "coredns"]) await nodeProcess(name)?.stop();
    for (const node of nodes) {
      try {
        for (const t of await tasks(node))
          await ctr(node, ["tasks", "kill", "-s", "SIGKILL", t]).catch(() => undefined);
      } catch {
        // containerd already gone
      }
    }
    mark = phase("kubeletsMs", mark);
    try {
      await run(bin("kube-proxy"), ["--cleanup"], { timeoutMs: 30_000 });
    } catch (error) {
      logger.warn({ error: String(error) }, "cluster local: kube-proxy --cleanup failed");
    }
    removeKubeletChains();
    mark = phase("iptablesMs", mark);
    for (const node of nodes) {
      await nodeProcess(`containerd${node.suffix}`)?.stop();
      for (const pid of pidsMentioning(node.sock)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    for (const m of mountsUnder(cp.workDir)) {
      try {
        execFileSync("umount", ["-l", m]);
      } catch {
        // not mounted any more
      }
    }
    removeKubepodsCgroups(cgroupRoots);
    phase("containerdMs", mark);
    logger.info({ ms: Date.now() - started, ...phases }, "cluster local: nodes stopped");
    releaseLock();
  };

  /** A node's containerd, answering, with `archives` imported. */
  const startContainerd = async (node: LocalNode, archives: readonly string[]): Promise<void> => {
    mkdirSync(join(node.ctrDir, "cni"), { recursive: true });
    writeFileSync(join(node.ctrDir, "config.toml"), containerdConfig(node.ctrDir));
    writeFileSync(
      join(node.ctrDir, "cni", "10-tributary.conflist"),
      cniConfig(join(node.ctrDir, "ipam"), node.podSubnet),
    );
    const containerd = startProcess({
      name: `containerd${node.suffix}`,
      command: "/usr/bin/containerd",
      args: ["--config", join(node.ctrDir, "config.toml")],
      logFile: join(cp.logDir, `containerd${node.suffix}.log`),
    });
    cp.processes.push(containerd);
    await pollUntil(
      `${node.name}: containerd socket`,
      remaining(),
      () => Promise.resolve(existsSync(node.sock) || undefined),
      [containerd],
    );
    await pollUntil(
      `${node.name}: containerd to answer`,
      remaining(),
      async () => {
        await ctr(node, ["version"], 5_000);
        return true;
      },
      [containerd],
    );
    for (const archive of archives) {
      const started = Date.now();
      await ctr(node, ["images", "import", archive]);
      logger.info({ node: node.name, archive, ms: Date.now() - started }, "cluster local: image imported");
    }
  };

  /** A node's kubelet with a node client certificate (the Node authorizer and NodeRestriction apply). */
  const startKubelet = async (node: LocalNode): Promise<void> => {
    if (node.cgroupRoot !== undefined) createCgroupRoot(node.cgroupRoot);
    const nodeClient = await cp.pki.issue({
      name: `kubelet-client${node.suffix}`,
      commonName: `system:node:${node.name}`,
      organization: "system:nodes",
      client: true,
    });
    const kubeletServing = await cp.pki.issue({
      name: `kubelet-serving${node.suffix}`,
      commonName: node.name,
      server: { ips: [host, "127.0.0.1"], dns: [node.name, "localhost"] },
    });
    const kubeletDir = join(cp.workDir, `kubelet${node.suffix}`);
    mkdirSync(kubeletDir);
    writeFileSync(join(kubeletDir, "kubeconfig"), kubeconfigYaml(cp.server, cp.pki.ca.cert, nodeClient, "kubelet"));
    writeFileSync(
      join(kubeletDir, "config.yaml"),
      kubeletConfig(cp, node, kubeletDir, await freePort(host), kubeletServing),
    );
    cp.processes.push(
      startProcess({
        name: `kubelet${node.suffix}`,
        command: bin("kubelet"),
        args: [
          `--config=${join(kubeletDir, "config.yaml")}`,
          `--kubeconfig=${join(kubeletDir, "kubeconfig")}`,
          `--hostname-override=${node.name}`,
          `--node-ip=${host}`,
          `--root-dir=${join(kubeletDir, "root")}`,
          `--node-labels=topology.kubernetes.io/zone=${node.zone},topology.kubernetes.io/region=tributary`,
          "--v=1",
        ],
        logFile: join(cp.logDir, `kubelet${node.suffix}.log`),
      }),
    );
  };

  try {
    // Routing between pods, the host and Service IPs.
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");

    // Every node's containerd with our pause image and the caller's images, one node at a time: imports are CPU-bound.
    const archives = [await pauseImageArchive(bin), ...(options.images ?? [])];
    for (const node of nodes) {
      await startContainerd(node, node.index === 0 ? [...archives, ...(options.firstNodeImages ?? [])] : archives);
    }

    startControllers(cp);
    for (const node of nodes) await startKubelet(node);

    // kube-proxy and CoreDNS run once, with the admin kubeconfig (a test cluster: no per-component identities); the
    // nodes share the host's network namespace, so one set of iptables rules serves all of them.
    const proxyConfig = join(cp.workDir, "kube-proxy.yaml");
    writeFileSync(proxyConfig, kubeProxyConfig(cp.kubeconfig, await freePort(), await freePort()));
    cp.processes.push(
      startProcess({
        name: "kube-proxy",
        command: bin("kube-proxy"),
        args: [`--config=${proxyConfig}`],
        logFile: join(cp.logDir, "kube-proxy.log"),
      }),
    );
    const dnsPort = await freePort(host);
    writeFileSync(join(cp.workDir, "Corefile"), corefile(cp.kubeconfig, host, dnsPort));
    cp.processes.push(
      startProcess({
        name: "coredns",
        command: bin("coredns"),
        args: ["-conf", join(cp.workDir, "Corefile")],
        logFile: join(cp.logDir, "coredns.log"),
      }),
    );
    await cp.kubectl(["apply", "-f", "-"], kubeDnsYaml(host, dnsPort));

    await pollUntil(
      `${nodes.length} node(s) Ready`,
      remaining(),
      async () => {
        for (const node of nodes) {
          const [status, body] = await apiGet(cp, `/api/v1/nodes/${node.name}`);
          if (status !== 200) return undefined;
          const parsed = JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } };
          if (!(parsed.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false)) {
            return undefined;
          }
        }
        return true;
      },
      cp.processes,
      250,
    );
    await waitForDefaultServiceAccount(cp, remaining());
  } catch (error) {
    const cluster = toCluster("local", cp, 0, options.artifactsDir, teardown);
    const saved = await cluster.stop({ failed: true });
    const tails = nodes
      .map((n) => `kubelet${n.suffix} log tail:\n${logTail(join(saved ?? "", "logs", `kubelet${n.suffix}.log`), 15)}`)
      .join("\n");
    throw new Error(`cluster tier 'local' failed to start (logs in ${saved}); ${tails}`, { cause: error });
  }
  const startMs = Date.now() - options.started;
  logger.info(
    { tier: "local", nodes: nodes.length, startMs, kubeconfig: cp.kubeconfig, serviceCidr: SERVICE_CIDR },
    "cluster: ready",
  );
  return toCluster("local", cp, startMs, options.artifactsDir, teardown);
}
