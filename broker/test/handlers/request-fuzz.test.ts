import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RequestRejected, type DispatchConnection } from "../../src/handlers/dispatcher.ts";
import { API_CODECS, encodeRequest, type MessageCodec } from "../../src/protocol/index.ts";
import { brokerMessageModels, structArb } from "../protocol/message-values.ts";
import { inProcessBrokerPer } from "../support/in-process-broker.ts";

// The request path end to end, in process: arbitrary, truncated and mutated frames for every API the broker
// advertises. Each must produce a response or a RequestRejected (the network layer then closes that connection);
// nothing else may escape, and the broker must still answer a normal request afterwards.

const h = inProcessBrokerPer("file", "fuzz", ["num.partitions=2"]);

function connection(): DispatchConnection & { closed: string[] } {
  const closed: string[] = [];
  return {
    id: "fuzz-1",
    listenerName: "PLAINTEXT",
    remoteAddress: "127.0.0.1",
    logger: h.logger,
    signal: AbortSignal.timeout(50),
    closeAfterResponse: (reason) => closed.push(reason),
    closed,
  };
}

async function dispatchSafely(frame: Buffer): Promise<"answered" | "rejected" | "silent"> {
  try {
    const response = await h.broker.dispatcher.dispatch(frame, connection());
    return response === null ? "silent" : "answered";
  } catch (error) {
    // A response the broker cannot encode is a broker bug, even though the dispatcher contains it.
    if (error instanceof RequestRejected && !error.message.startsWith("could not encode")) return "rejected";
    throw new Error(`dispatch raised ${String(error)} for frame ${frame.toString("hex").slice(0, 160)}`);
  }
}

describe("request path fuzzing", () => {
  it("answers or rejects arbitrary, truncated and mutated requests of every advertised API", async () => {
    const models = new Map(brokerMessageModels().map((m) => [m.spec.name, m]));
    const codecs = API_CODECS as Record<number, { request: MessageCodec<unknown> } | undefined>;
    let cases = 0;
    for (const handlerKey of Object.keys(API_CODECS).map(Number)) {
      const codec = codecs[handlerKey]?.request;
      const model = codec && models.get(codec.name);
      if (!codec || !model) continue;
      for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
        const samples = fc.sample(structArb(model.root, v), { numRuns: 2, seed: handlerKey * 100 + v });
        for (const body of samples) {
          const frame = encodeRequest(
            { apiKey: handlerKey, apiVersion: v, correlationId: 7, clientId: "fuzz" },
            codec,
            body,
          );
          await dispatchSafely(frame);
          await dispatchSafely(frame.subarray(0, Math.floor(frame.length / 2)));
          const mutated = Buffer.from(frame);
          for (let i = 0; i < 3; i++) mutated[(i * 7919 + v) % mutated.length] = 0xff;
          await dispatchSafely(mutated);
          cases += 3;
        }
      }
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        await dispatchSafely(Buffer.from(bytes));
      }),
      { numRuns: 300 },
    );
    expect(cases).toBeGreaterThan(1000);

    // Still healthy: a plain Metadata request is answered.
    const metadata = codecs[3]?.request;
    if (!metadata) throw new Error("no Metadata codec");
    const frame = encodeRequest({ apiKey: 3, apiVersion: 9, correlationId: 1, clientId: "after-fuzz" }, metadata, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(await dispatchSafely(frame)).toBe("answered");
  });

  it("closes the connection for an unknown API key and answers ApiVersions v99 with UNSUPPORTED_VERSION", async () => {
    const unknown = Buffer.from([0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
    expect(await dispatchSafely(unknown)).toBe("rejected");
    const apiVersions = Buffer.from([0, 18, 0, 99, 0, 0, 0, 5, 0xff, 0xff, 0]);
    const response = await h.broker.dispatcher.dispatch(apiVersions, connection());
    expect(response).not.toBeNull();
    // Header v0 (correlation id), then error code 35.
    expect(response?.readInt32BE(0)).toBe(5);
    expect(response?.readInt16BE(4)).toBe(35);
  });
});
