import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rackOfNode, rackProperties } from "../../src/rack/node-rack.ts";
import { rackMain } from "../../src/rack/rack-tool.ts";
import { parseProperties } from "../../src/config/properties.ts";

const ZONE = "topology.kubernetes.io/zone";
const node = (labels?: Record<string, unknown>) => ({ metadata: { name: "n1", ...(labels ? { labels } : {}) } });

describe("rackOfNode", () => {
  it("takes the rack from the label named by the topology key", () => {
    expect(rackOfNode(node({ [ZONE]: "eu-west-1a", other: "x" }), ZONE)).toEqual({ rack: "eu-west-1a" });
  });

  it("says which node lacks the label, or carries a value that is no rack name", () => {
    expect(rackOfNode(node({ other: "x" }), ZONE)).toEqual({ missing: `node n1 has no label ${ZONE}` });
    expect(rackOfNode(node(), ZONE)).toEqual({ missing: `node n1 has no label ${ZONE}` });
    expect(JSON.stringify(rackOfNode(node({ [ZONE]: "" }), ZONE))).toMatch(/not a rack name/);
    expect(JSON.stringify(rackOfNode(node({ [ZONE]: "a\nb" }), ZONE))).toMatch(/not a rack name/);
    expect(rackOfNode(null, ZONE)).toEqual({ missing: `node (unnamed) has no label ${ZONE}` });
  });
});

describe("rackProperties", () => {
  it("renders broker.rack for the broker's --override-file, or only a comment", () => {
    const written = parseProperties(rackProperties("n1", ZONE, { rack: "zone-a" }));
    expect(written.map((e) => [e.key, e.value])).toEqual([["broker.rack", "zone-a"]]);
    expect(parseProperties(rackProperties("n1", ZONE, { missing: "node n1 has no label x" }))).toEqual([]);
  });
});

describe("tributary-rack", () => {
  const io = () => {
    const out = { stdout: "", stderr: "" };
    return { out, io: { stdout: (t: string) => (out.stdout += t), stderr: (t: string) => (out.stderr += t) } };
  };

  it("refuses missing arguments with exit code 2, naming them", async () => {
    const { out, io: sink } = io();
    expect(await rackMain(["--output", "/tmp/x"], {}, sink)).toBe(2);
    expect(out.stderr).toMatch(
      /--topology-key, --node \(or NODE_NAME\), --server \(or KUBERNETES_SERVICE_HOST\) required/,
    );
  });

  it("fails with exit code 1 and the reason when the node cannot be read, writing nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-rack-"));
    const { out, io: sink } = io();
    const output = join(dir, "rack.properties");
    const code = await rackMain(
      ["-k", ZONE, "-o", output, "--credentials", join(dir, "none")],
      { NODE_NAME: "n1", KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "1" },
      sink,
    );
    expect(code).toBe(1);
    expect(out.stderr).toMatch(/cannot read node n1: ENOENT/);
    writeFileSync(join(dir, "token"), "t");
    writeFileSync(join(dir, "ca.crt"), "not a certificate");
    expect(
      await rackMain(
        ["-k", ZONE, "-o", output, "--credentials", dir, "--server", "https://127.0.0.1:1"],
        { NODE_NAME: "n1" },
        sink,
      ),
    ).toBe(1);
    expect(() => readFileSync(output)).toThrow(/ENOENT/);
  });
});
