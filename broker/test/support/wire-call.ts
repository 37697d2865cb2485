import { expect } from "vitest";
import { decodeResponse, encodeRequest, type MessageCodec } from "../../src/protocol/index.ts";
import { type TestClient, waitFor } from "../network/helpers.ts";

let correlationId = 0;

/**
 * Sends one request as raw frames (fields not given take their defaults) and resolves with the decoded response body;
 * one request at a time per client. For the versions and edges real clients do not reach.
 */
export async function wireCall<Req, Res>(
  client: TestClient,
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
  clientId = "wire-test",
): Promise<Res> {
  const before = client.responses.length;
  const id = ++correlationId;
  const header = { apiKey: request.apiKey, apiVersion: version, correlationId: id, clientId };
  client.send(encodeRequest(header, request, { ...request.create(), ...body }));
  const frame = await waitFor(
    () => (client.closed ? new Error("connection closed") : client.responses[before]),
    `${request.name} v${version}`,
  );
  if (frame instanceof Error) throw frame;
  const decoded = decodeResponse(frame, request.apiKey, version, response);
  expect(decoded.correlationId).toBe(id);
  return decoded.body;
}
