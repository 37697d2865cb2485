// A throwaway PKI per cluster run, made with the openssl CLI (OpenSSL >= 3.0 for `req -x509 -CA`). P-256 keys keep it
// to a few milliseconds per certificate.
import { join } from "node:path";
import { run } from "./proc.ts";

export interface KeyPair {
  cert: string;
  key: string;
}

export interface CertRequest {
  /** File name stem under the PKI directory. */
  name: string;
  commonName: string;
  organization?: string;
  server?: { ips: readonly string[]; dns: readonly string[] };
  client?: boolean;
}

/** `openssl req -x509` for a new P-256 key, valid 30 days; with -CA/-CAkey appended it is signed by that CA instead. */
function selfSignedArgs(pair: KeyPair, subject: string): string[] {
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", pair.key];
  return ["req", "-x509", ...key, "-out", pair.cert, "-days", "30", "-subj", subject];
}

export class Pki {
  readonly ca: KeyPair;

  private constructor(
    readonly dir: string,
    ca: KeyPair,
  ) {
    this.ca = ca;
  }

  static async create(dir: string): Promise<Pki> {
    const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
    await run("openssl", [
      ...selfSignedArgs(ca, "/CN=tributary-test-ca"),
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    ]);
    return new Pki(dir, ca);
  }

  async issue(request: CertRequest): Promise<KeyPair> {
    const pair = { cert: join(this.dir, `${request.name}.crt`), key: join(this.dir, `${request.name}.key`) };
    const subject = `${request.organization === undefined ? "" : `/O=${request.organization}`}/CN=${request.commonName}`;
    const usages = [...(request.server ? ["serverAuth"] : []), ...(request.client === true ? ["clientAuth"] : [])];
    const extensions = [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${usages.join(",")}`,
    ];
    if (request.server) {
      const names = [...request.server.ips.map((ip) => `IP:${ip}`), ...request.server.dns.map((d) => `DNS:${d}`)];
      extensions.push(`subjectAltName=${names.join(",")}`);
    }
    await run("openssl", [
      ...selfSignedArgs(pair, subject),
      "-CA",
      this.ca.cert,
      "-CAkey",
      this.ca.key,
      ...extensions.flatMap((e) => ["-addext", e]),
    ]);
    return pair;
  }

  /** An EC key pair for service-account tokens: the apiserver signs with `key` and verifies with `cert` (public key). */
  async serviceAccountKey(): Promise<KeyPair> {
    const pair = { key: join(this.dir, "sa.key"), cert: join(this.dir, "sa.pub") };
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", pair.key]);
    await run("openssl", ["pkey", "-in", pair.key, "-pubout", "-out", pair.cert]);
    return pair;
  }
}

/** A kubeconfig with one cluster, user and context, referring to certificate files by absolute path. */
export function kubeconfigYaml(server: string, caFile: string, client: KeyPair, user = "admin"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: tributary",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority: ${caFile}`,
    "users:",
    `  - name: ${user}`,
    "    user:",
    `      client-certificate: ${client.cert}`,
    `      client-key: ${client.key}`,
    "contexts:",
    "  - name: tributary",
    "    context:",
    "      cluster: tributary",
    `      user: ${user}`,
    "current-context: tributary",
    "",
  ].join("\n");
}
