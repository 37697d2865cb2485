// The kubeconfig loader (kubeconfig.ts) against a real TLS server (self-signed certificates from the openssl CLI) that
// answers each request with what authenticated it: the Authorization header and the client certificate's subject.
// Covers bearer tokens, token files (re-read once stale), basic auth, client certificates, YAML and JSON files,
// in-cluster, and the hand-over to @kubernetes/client-node's KubeConfig for an exec credential plugin.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type RequestOptions, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, KINDS } from "../../src/kube/index.ts";
import { inClusterConnection, kubeconfigConnection, loadConnection, tokenFile } from "../../src/kube/kubeconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "tributary-kubeconfig-"));
const file = (name: string): string => join(dir, name);
let server: Server;
let url = "";
let ca = "";

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

beforeAll(async () => {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "1", "-subj", "/CN=ca");
  // The server's and the client's certificates, both signed by the CA.
  for (const [name, subj, ext] of [
    ["server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"],
    ["client", "/CN=alice", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl("req", ...ec, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", subj);
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl(
      ...["x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.crt"), "-CAkey", file("ca.key")],
      ...["-CAcreateserial", "-out", file(`${name}.crt`), "-days", "1", "-extfile", file(`${name}.ext`)],
    );
  }
  ca = readFileSync(file("ca.crt")).toString("base64");
  server = createServer(
    {
      key: readFileSync(file("server.key")),
      cert: readFileSync(file("server.crt")),
      ca: readFileSync(file("ca.crt")),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "who" },
          data: { authorization: req.headers.authorization ?? "", subject: peer.subject?.CN ?? "" },
        }),
      );
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `https://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): object {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: url, "certificate-authority-data": ca, ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  };
}

/** What the server saw of a request made with the kubeconfig at `path`. */
async function whoAmI(path: string): Promise<Record<string, string> | undefined> {
  const client = KubeClient.fromKubeconfig(path);
  try {
    return (
      await client.get<{ data: Record<string, string> } & Parameters<KubeClient["apply"]>[0]>(
        KINDS.ConfigMap,
        "default",
        "who",
      )
    )?.data;
  } finally {
    client.close();
  }
}

describe("kubeconfig loading without client-node's KubeConfig", () => {
  it("sends a bearer token, trusting the kubeconfig's CA (JSON file)", async () => {
    writeFileSync(file("token.json"), JSON.stringify(kubeconfig({ token: "s3cret" })));
    expect(await whoAmI(file("token.json"))).toEqual({ authorization: "Bearer s3cret", subject: "" });
  });

  it("authenticates with a client certificate from files relative to the kubeconfig (YAML file)", async () => {
    writeFileSync(
      file("cert.yaml"),
      stringify(
        kubeconfig(
          { "client-certificate": "client.crt", "client-key": "client.key" },
          { "certificate-authority-data": undefined, "certificate-authority": "ca.crt" },
        ),
      ),
    );
    expect(await whoAmI(file("cert.yaml"))).toEqual({ authorization: "", subject: "alice" });
  });

  it("refuses a server its CA did not sign", async () => {
    const other = Buffer.from(readFileSync(file("client.crt"))).toString("base64");
    writeFileSync(
      file("wrong-ca.json"),
      JSON.stringify(kubeconfig({ token: "t" }, { "certificate-authority-data": other })),
    );
    await expect(whoAmI(file("wrong-ca.json"))).rejects.toThrow(/certificate/);
  });

  it("reads a token file, and again once the read is older than a minute", () => {
    writeFileSync(file("token"), "one\n");
    let now = 0;
    const token = tokenFile(file("token"), () => now);
    expect(token()).toBe("one");
    writeFileSync(file("token"), "two\n");
    now = 59_000;
    expect(token()).toBe("one");
    now = 60_000;
    expect(token()).toBe("two");
  });

  it("sends the token of a token file named relative to the kubeconfig (client-go's tokenFile)", async () => {
    writeFileSync(file("user-token"), "from-file\n");
    writeFileSync(file("tokenfile.json"), JSON.stringify(kubeconfig({ tokenFile: "user-token" })));
    expect(await whoAmI(file("tokenfile.json"))).toEqual({ authorization: "Bearer from-file", subject: "" });
  });

  it("sends basic auth", async () => {
    writeFileSync(file("basic.json"), JSON.stringify(kubeconfig({ username: "bob", password: "pw" })));
    const basic = `Basic ${Buffer.from("bob:pw").toString("base64")}`;
    expect(await whoAmI(file("basic.json"))).toEqual({ authorization: basic, subject: "" });
  });

  it("handles a user entry without a user block itself (no credentials), not through client-node", async () => {
    const config = { ...kubeconfig({}), users: [{ name: "u" }] };
    const conn = kubeconfigConnection(config, dir);
    const opts: RequestOptions = {};
    await conn.apply(opts);
    expect(opts).toEqual({ ca: Buffer.from(ca, "base64") });
  });

  it("says which context is missing", async () => {
    writeFileSync(file("nocontext.json"), JSON.stringify({ ...kubeconfig({ token: "t" }), "current-context": "y" }));
    await expect(loadConnection(file("nocontext.json"))).rejects.toThrow('kubeconfig: no context named "y"');
  });

  it("builds the in-cluster connection from the service environment and the ServiceAccount files", async () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "token"), "pod-token\n");
    writeFileSync(join(sa, "ca.crt"), "CA");
    const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa);
    expect(conn.server.href).toBe("https://[fd00::1]/");
    const opts: RequestOptions = {};
    await conn.apply(opts);
    expect(opts).toEqual({ ca: Buffer.from("CA"), headers: { Authorization: "Bearer pod-token" } });
    expect(() => inClusterConnection({}, sa)).toThrow(/not in a cluster/);
  });

  it("hands an exec credential plugin to @kubernetes/client-node", async () => {
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      kind: "ExecCredential",
      status: { token: "from-exec" },
    });
    writeFileSync(
      file("exec.json"),
      JSON.stringify(
        kubeconfig({
          exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "echo", args: [credential] },
        }),
      ),
    );
    expect(await whoAmI(file("exec.json"))).toEqual({ authorization: "Bearer from-exec", subject: "" });
  });
});
