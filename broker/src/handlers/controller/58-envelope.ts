// Envelope (key 58), version 0, controller listener (KIP-590).
// A broker forwards a client's admin write to the active controller wrapped in an Envelope: the client's request
// header and body, its principal and address. The controller answers the inner request as if the client had sent it
// and returns the inner response (header and body) in the Envelope's response. Only forwardable APIs are accepted
// (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs, ElectLeaders,
// AlterPartitionReassignments, ListPartitionReassignments, DescribeQuorum, UpdateFeatures, UnregisterBroker; anything else, or an inner request that cannot be parsed, is INVALID_REQUEST). A node that is not the active controller answers
// NOT_CONTROLLER so the broker retries elsewhere. The controller listener is a privileged listener (only brokers and
// controllers reach it); there is no authorizer, so the forwarded principal is not checked.
import { ApiKey, EnvelopeRequest, EnvelopeResponse, ErrorCode } from "../../protocol/index.ts";
import { createDispatcher, RequestRejected, type Dispatcher } from "../dispatcher.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { ControllerCommands } from "./services.ts";

const FORWARDABLE: ReadonlySet<number> = new Set([
  ApiKey.CreateTopics,
  ApiKey.DeleteTopics,
  ApiKey.CreatePartitions,
  ApiKey.AlterConfigs,
  ApiKey.IncrementalAlterConfigs,
  ApiKey.ElectLeaders,
  ApiKey.AlterPartitionReassignments,
  ApiKey.ListPartitionReassignments,
  ApiKey.DescribeQuorum,
  ApiKey.UpdateFeatures,
  ApiKey.UnregisterBroker,
]);

/** Kafka sends the client's IP address as its 4 or 16 raw bytes. */
function ipAddress(bytes: Buffer): string | null {
  if (bytes.length === 4) return [...bytes].join(".");
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    return groups.join(":");
  }
  return null;
}

export function envelopeHandler(commands: ControllerCommands, handlers: () => readonly AnyHandler[]): AnyHandler {
  let inner: Dispatcher | null = null;
  const refuse = (errorCode: number) => ({ ...EnvelopeResponse.create(), responseData: null, errorCode });
  return defineHandler({
    apiKey: ApiKey.Envelope,
    minVersion: 0,
    maxVersion: 0,
    request: EnvelopeRequest,
    response: EnvelopeResponse,
    async handle(request, context) {
      if (!commands.isActive) return refuse(ErrorCode.NOT_CONTROLLER);
      if (request.requestData.length < 2 || !FORWARDABLE.has(request.requestData.readInt16BE(0))) {
        return refuse(ErrorCode.INVALID_REQUEST);
      }
      inner ??= createDispatcher({
        handlers: handlers().filter((h) => FORWARDABLE.has(h.apiKey)),
        logger: context.logger,
      });
      try {
        const responseData = await inner.dispatch(request.requestData, {
          id: context.connectionId,
          listenerName: context.listenerName,
          remoteAddress: ipAddress(request.clientHostAddress) ?? context.clientHost,
          logger: context.logger,
          signal: context.signal,
          closeAfterResponse: () => undefined,
        });
        return { ...EnvelopeResponse.create(), responseData, errorCode: ErrorCode.NONE };
      } catch (err) {
        if (err instanceof RequestRejected) {
          context.logger.info({ err }, "Refused a forwarded request");
          return refuse(ErrorCode.INVALID_REQUEST);
        }
        throw err;
      }
    },
  });
}
