import { ErrorCode } from "../protocol/index.ts";
import { defineHandler, type AnyHandler, type Handler, type RequestContext } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

// The broker's admin writes are the active controller's to decide (KIP-590, ADR 22): CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs, ElectLeaders, Alter/ListPartitionReassignments and
// UpdateFeatures go to it whole, in the client's version, and the client gets the controller's answer; so does
// DescribeQuorum, which only the quorum's leader can answer.
// When no controller answers in time, every item of the request gets the error.

/** How long a forwarded request may wait for an active controller (Kafka's request.timeout.ms default). */
const FORWARD_TIMEOUT_MS = 30_000;

function messageFor(errorCode: number): string {
  return errorCode === ErrorCode.REQUEST_TIMED_OUT
    ? "No active controller answered in time."
    : `The controller could not take the request (error ${errorCode}).`;
}

export interface ForwardedApi<Req, Res> extends Pick<
  Handler<Req, Res>,
  "apiKey" | "minVersion" | "maxVersion" | "request" | "response"
> {
  /** The response giving every item of `request` this error. */
  readonly failAll: (request: Req, context: RequestContext, errorCode: number, errorMessage: string) => Res;
}

/** The handler of an admin write: the request goes to the active controller, the client gets its answer. */
export function forwardingHandler<Req, Res>(services: BrokerServices, api: ForwardedApi<Req, Res>): AnyHandler {
  const { request, response } = api;
  return defineHandler({
    apiKey: api.apiKey,
    minVersion: api.minVersion,
    maxVersion: api.maxVersion,
    request,
    response,
    async handle(body, context) {
      const outcome = await services.forwarder.forward({
        request,
        response,
        version: context.apiVersion,
        body,
        context,
        timeoutMs: FORWARD_TIMEOUT_MS,
      });
      if ("response" in outcome) return outcome.response;
      return api.failAll(body, context, outcome.errorCode, messageFor(outcome.errorCode));
    },
  });
}

/** AlterConfigs' and IncrementalAlterConfigs' answer giving every resource the error. */
export function failResources(
  resources: readonly { resourceType: number; resourceName: string }[],
  errorCode: number,
  errorMessage: string,
) {
  return resources.map((r) => ({
    errorCode,
    errorMessage,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
  }));
}
