// What the operator e2e suites run against a KafkaCluster on a real-kubelet cluster: the chart installed with the
// images `make image` imported, the KafkaCluster's pods as kubectl sees them, and the e2e client's acks=all produce
// loop and consumer-group consume loop as Jobs with their RESULT lines. Every function takes the cluster and the
// namespace; nothing here is global.
import { join } from "node:path";
import { binDir, type Cluster } from "../cluster/index.ts";
import { pollUntil, run } from "../cluster/proc.ts";
import type { ConsumeLoopResult } from "../client/kafka-client.ts";

export const jsonpath = (path: string): string => `jsonpath=${path}`;
export const READY = '{.status.conditions[?(@.type=="Ready")].status}';

// e2e/image/build.sh tags the images docker.io/tributary/<name>:dev; they are imported, never pulled.
export const LOCAL_IMAGE = { repository: "docker.io/tributary", tag: "dev", pullPolicy: "Never" } as const;

export async function helm(c: Cluster, args: readonly string[]): Promise<string> {
  return (await run(join(binDir(), "helm"), ["--kubeconfig", c.kubeconfig, ...args], { timeoutMs: 180_000 })).stdout;
}

/** `helm install` of charts/tributary with the local images; resolves once the operator Deployment is rolled out. */
export async function installOperator(
  c: Cluster,
  options: { repo: string; release: string; namespace: string; set?: readonly string[] },
): Promise<void> {
  const img = LOCAL_IMAGE;
  await helm(c, [
    "install",
    options.release,
    join(options.repo, "charts", "tributary"),
    "--namespace",
    options.namespace,
    "--create-namespace",
    "--set",
    `image.repository=${img.repository}/operator,image.tag=${img.tag},image.pullPolicy=${img.pullPolicy}`,
    "--set",
    `brokerImage.repository=${img.repository}/broker,brokerImage.tag=${img.tag},brokerImage.pullPolicy=${img.pullPolicy}`,
    ...(options.set ?? []).flatMap((s) => ["--set", s]),
  ]);
  await c.kubectl([
    "rollout",
    "status",
    "-n",
    options.namespace,
    `deployment/${options.release}-operator`,
    "--timeout=180s",
  ]);
}

/** Polls (250 ms) until the KafkaCluster's Ready condition is True. */
export async function waitClusterReady(c: Cluster, ns: string, name: string, timeoutMs: number): Promise<void> {
  await pollUntil(
    `KafkaCluster ${name} Ready=True`,
    timeoutMs,
    async () =>
      (await c.kubectl(["get", "kafkacluster", name, "-n", ns, "-o", jsonpath(READY)])) === "True" ? true : undefined,
    [],
    250,
  );
}

export interface ClusterPod {
  name: string;
  uid: string;
  ip: string;
  node: string;
  ready: boolean;
  deleting: boolean;
}

/** The pods of a KafkaCluster (label tributary.dev/cluster), with the node each is bound to ("" before scheduling). */
export async function kafkaClusterPods(c: Cluster, ns: string, cluster: string): Promise<ClusterPod[]> {
  const out = await c.kubectl([
    "get",
    "pods",
    "-n",
    ns,
    "-l",
    `tributary.dev/cluster=${cluster}`,
    "-o",
    jsonpath(
      "{range .items[*]}{.metadata.name} {.metadata.uid} {.status.podIP}. {.spec.nodeName}. " +
        '{.status.conditions[?(@.type=="Ready")].status}. {.metadata.deletionTimestamp}.{"\\n"}{end}',
    ),
  ]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name = "", uid = "", ip = "", node = "", ready = "", deleting = ""] = l.trim().split(" ");
      return {
        name,
        uid,
        ip: ip.slice(0, -1),
        node: node.slice(0, -1),
        ready: ready === "True.",
        deleting: deleting !== ".",
      };
    });
}

/**
 * A Job running the e2e client's produce loop (acks=all, idempotent, one record per 100 ms to a topic it creates
 * with RF 3 and min.insync.replicas 2) against a KafkaCluster's bootstrap Service. `node` pins the pod to one node.
 */
export function produceLoopJob(options: {
  name: string;
  ns: string;
  cluster: string;
  topic: string;
  durationMs: number;
  node?: string;
}): string {
  return clientJob(options, [
    { name: "MODE", value: "produce-loop" },
    { name: "DURATION_MS", value: String(options.durationMs) },
    { name: "INTERVAL_MS", value: "100" },
  ]);
}

/**
 * A Job running the e2e client's consume loop: group `group` consumes the produce loop's topic (committing after
 * every batch) for `durationMs`, then up to the high watermarks, checking that the group's committed offsets never go back.
 */
export function consumeLoopJob(options: {
  name: string;
  ns: string;
  cluster: string;
  topic: string;
  group: string;
  durationMs: number;
  node?: string;
}): string {
  return clientJob(options, [
    { name: "MODE", value: "consume-loop" },
    { name: "GROUP", value: options.group },
    { name: "DURATION_MS", value: String(options.durationMs) },
    { name: "DRAIN_MS", value: "60000" },
  ]);
}

/** A Job of the e2e client image against a KafkaCluster's bootstrap Service, with `env` beside BOOTSTRAP and TOPIC. */
function clientJob(
  options: { name: string; ns: string; cluster: string; topic: string; durationMs: number; node?: string },
  env: readonly { name: string; value: string }[],
): string {
  return JSON.stringify({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: options.name },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.ceil(options.durationMs / 1000) + 180,
      template: {
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          ...(options.node === undefined ? {} : { nodeSelector: { "kubernetes.io/hostname": options.node } }),
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "client",
              image: "tributary/e2e-client:dev",
              imagePullPolicy: "Never",
              env: [
                {
                  name: "BOOTSTRAP",
                  value: `${options.cluster}-kafka-bootstrap.${options.ns}.svc.cluster.local:9092`,
                },
                { name: "TOPIC", value: options.topic },
                ...env,
              ],
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  });
}

export interface ProduceLoopResult {
  acked: number;
  failed: number;
  lost: number;
  maxSendMs: number;
}

/** Polls until the produce loop logs that it is producing; resolves to that moment (epoch ms). */
export async function produceLoopStarted(c: Cluster, ns: string, job: string, topic: string): Promise<number> {
  return pollUntil(`${job} producing`, 120_000, async () => {
    const logs = await c.kubectl(["logs", "-n", ns, `job/${job}`]).catch(() => "");
    return logs.includes(`producing to ${topic}`) ? Date.now() : undefined;
  });
}

/** Waits for the produce loop's Job to finish, reads its RESULT line and deletes the Job. */
export async function produceLoopResult(
  c: Cluster,
  ns: string,
  job: string,
  timeoutMs: number,
): Promise<ProduceLoopResult> {
  return jobResult<ProduceLoopResult>(c, ns, job, timeoutMs);
}

/** What the consume loop prints (e2e/src/client/kafka-client.ts). */
export type { ConsumeLoopResult } from "../client/kafka-client.ts";

/** Waits for the consume loop's Job to finish, reads its RESULT line and deletes the Job. */
export async function consumeLoopResult(
  c: Cluster,
  ns: string,
  job: string,
  timeoutMs: number,
): Promise<ConsumeLoopResult> {
  return jobResult<ConsumeLoopResult>(c, ns, job, timeoutMs);
}

/** The key indices in [0, count) that none of `ranges` ([first, last] runs) covers. */
export function missingFrom(ranges: readonly (readonly [number, number])[], count: number): number[] {
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!ranges.some(([a, b]) => i >= a && i <= b)) missing.push(i);
  return missing;
}

async function jobResult<T>(c: Cluster, ns: string, job: string, timeoutMs: number): Promise<T> {
  await pollUntil(
    `job ${job} to finish`,
    timeoutMs,
    async () => {
      const out = await c.kubectl([
        "get",
        "job",
        job,
        "-n",
        ns,
        "-o",
        jsonpath("{.status.succeeded}/{.status.failed}"),
      ]);
      return out.startsWith("1/") || out.endsWith("/1") ? true : undefined;
    },
    [],
    500,
  );
  const logs = await c.kubectl(["logs", "-n", ns, `job/${job}`]);
  await c.kubectl(["delete", "job", job, "-n", ns, "--wait=false"]);
  const line = logs.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`no RESULT from ${job}:\n${logs}`);
  return JSON.parse(line.slice("RESULT ".length)) as T;
}
